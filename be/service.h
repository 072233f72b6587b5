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
 *
 * Master fencing: pings, push_cooldown_conf, cooldown_delete, drop_tablet
 * and clone carry the FE master's epoch. The service keeps the highest
 * epoch seen in {storage_root}/fe_epoch.json (written atomically before a
 * higher epoch is acted on) and refuses a request carrying a lower one with
 * FLOE_ENOTMASTER, a log line and floe_be_fenced_total{method}; such a
 * cooldown_delete deletes nothing. A request without an epoch (an FE from
 * before fencing) is accepted. A ping that is not stale and names the
 * master's address (PingReq.fe_address) records it: the FE client sends its
 * heartbeats and reports there (be_service_fe_master).
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
    /* deletes every object under data/{tablet_id}/ on the resource as the FE describes it
     * (a last-replica drop for a tablet this BE may no longer hold); *ret_deleted objects */
    int (*delete_remote_prefix)(void *ctx, int64_t tablet_id, const struct idl_resource *resource,
                                int64_t *ret_deleted, struct err *e);
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
    const char *storage_root;        /* where fe_epoch.json lives; NULL = the epoch is kept in memory only */
    struct be_service_hooks hooks;
};

/* Loads {storage_root}/fe_epoch.json (missing = epoch 0); a damaged file is FLOE_ECORRUPT naming it. */
int be_service_new(const struct be_service_opts *o, struct be_service **ret, struct err *e);
/* Registers the handlers on an RPC server (before rpc_server_start). */
int be_service_register(struct be_service *s, struct rpc_server *srv, struct err *e);
/* Expires idle cursors and snapshots; call periodically. */
void be_service_tick(struct be_service *s);
/* Open cursors (for tests). */
size_t be_service_cursors(struct be_service *s);
/* Accepts NULL. Call after the RPC server stopped. */
void be_service_free(struct be_service *s);

/*
 * Checks a master epoch from the FE (what: the request, for the log and the
 * metric; tablet_id 0 = none). 0 = not sent: accepted. Below the highest
 * seen: FLOE_ENOTMASTER. Above: persisted, then accepted (a failed write is
 * returned and the request refused). fe_address (may be NULL): the sender's
 * announced address, recorded when the epoch is not stale.
 */
int be_service_fence(struct be_service *s, int64_t epoch, const char *what, int64_t tablet_id,
                     const char *fe_address, struct err *e);
/* The highest master epoch seen. */
int64_t be_service_fe_epoch(struct be_service *s);
/* Copies the address the newest master announced ("" when none) into buf. */
void be_service_fe_master(struct be_service *s, char *buf, size_t len);

/* Tablet infos for reports: all tablets, with hooks applied. out fresh; *ret_n entries malloc'd. */
void be_service_tablet_infos(struct be_service *s, struct idl_tablet_info **ret, size_t *ret_n);

#endif
