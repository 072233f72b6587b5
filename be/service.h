/*
 * service: the BackendService RPC handlers over the engine: tablet create /
 * drop, loads (write, commit, publish, abort), streamed scans with cursors,
 * compaction, tablet info, and clone (snapshot + file fetch on the source,
 * copy + install on the destination).
 *
 * Cooldown methods (push_cooldown_conf, cooldown_delete, cold compaction)
 * and extra tablet-info fields are supplied by the cooldown code through
 * struct be_service_hooks; without hooks they answer FLOE_EUNSUPPORTED.
 *
 * Cursors and clone snapshots expire after idle timeouts (be_service_tick).
 */
#ifndef FLOE_BE_SERVICE_H
#define FLOE_BE_SERVICE_H

#include "backend_idl.h"
#include "engine.h"

struct auth_token;
struct be_service;

struct be_service_hooks {
    void *ctx;
    int (*push_cooldown_conf)(void *ctx, const struct idl_push_cooldown_conf_req *req,
                              struct idl_push_cooldown_conf_reply *reply, struct err *e);
    int (*cooldown_delete)(void *ctx, const struct idl_cooldown_delete_req *req, struct idl_cooldown_delete_reply *reply,
                           struct err *e);
    /* cold compaction (CompactReq.cold) */
    int (*compact_cold)(void *ctx, const struct idl_compact_req *req, struct idl_compact_reply *reply, struct err *e);
    /* adds cooldown fields (delete_id, ...) to a tablet info before it is sent */
    void (*fill_tablet_info)(void *ctx, struct idl_tablet_info *ti);
    /* drops a tablet (engine and cooldown state); delete_remote: this was the last replica,
     * also delete data/{tablet_id}/ on its resource. NULL = engine_drop_tablet only. */
    int (*drop_tablet)(void *ctx, int64_t tablet_id, bool delete_remote, struct err *e);
    /* floectl resource check from this BE: put, get, list, delete a probe object */
    int (*probe_resource)(void *ctx, const struct idl_probe_resource_req *req, struct idl_probe_resource_reply *reply,
                          struct err *e);
    /* a tablet was created with a policy / resource (both may be NULL) */
    void (*tablet_created)(void *ctx, int64_t tablet_id, const struct idl_storage_policy *policy,
                           const struct idl_resource *resource);
};

struct be_service_opts {
    struct engine *eng;
    const struct auth_token *token;  /* for clone connections to peers; borrowed */
    int64_t *backend_id;             /* current id (0 until registered); borrowed */
    int64_t cursor_idle_ms;          /* default 300000 */
    int64_t snapshot_idle_ms;        /* default 3600000 */
    struct be_service_hooks hooks;
};

int be_service_new(const struct be_service_opts *o, struct be_service **ret, struct err *e);
/* Registers the handlers on an RPC server (before rpc_server_start). */
int be_service_register(struct be_service *s, struct rpc_server *srv, struct err *e);
/* Expires idle cursors and snapshots; call periodically. */
void be_service_tick(struct be_service *s);
/* Open cursors (for tests). */
size_t be_service_cursors(struct be_service *s);
/* Accepts NULL. Call after the RPC server stopped. */
void be_service_free(struct be_service *s);

/* Tablet infos for reports: all tablets, with hooks applied. out fresh; *ret_n entries malloc'd. */
void be_service_tablet_infos(struct be_service *s, struct idl_tablet_info **ret, size_t *ret_n);

#endif
