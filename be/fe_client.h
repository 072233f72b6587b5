/*
 * fe_client: the BE's side of the FE protocol. A thread registers the BE
 * with the FE master (the assigned backend id and a node uuid are kept in
 * {storage_root}/backend_id.json, so a restarted BE keeps its identity),
 * then sends a heartbeat and a full tablet report every report interval.
 * Several FE addresses may be given ("h1:p1,h2:p2"); on an error the next
 * one is tried. Cooldown confs the FE sends back with a report (the FE's conf
 * for replicas that reported another one) are handed to a callback.
 *
 * Master failover: an address the newest FE master announced in a ping
 * (be_service_fe_master) is tried first, the configured ones after it. The
 * master epoch in heartbeat and report replies goes through
 * be_service_fence: a reply from a deposed master (lower epoch) fails the
 * round with FLOE_ENOTMASTER and its cooldown confs are not applied.
 */
#ifndef FLOE_BE_FE_CLIENT_H
#define FLOE_BE_FE_CLIENT_H

#include "service.h"

#include <stdint.h>

struct auth_token;
struct err;
struct fe_client;

struct fe_client_opts {
    const char *fe_address;          /* "host:port[,host:port...]" */
    const struct auth_token *token;  /* borrowed */
    const char *storage_root;
    const char *host;                /* address peers reach this BE at */
    int rpc_port, http_port;
    int64_t report_interval_s;
    struct be_service *svc;
    int64_t *backend_id;             /* written when registered; borrowed */
    void (*on_cooldown_confs)(void *ctx, const struct idl_cooldown_conf *confs, size_t n);
    void *ctx;
};

/*
 * An on_cooldown_confs callback (ctx = const struct be_service_hooks *):
 * applies confs from a report reply through the hooks' push_cooldown_conf,
 * exactly like a push from the FE (a term that is not higher is ignored).
 */
void fe_client_apply_cooldown_confs(void *hooks, const struct idl_cooldown_conf *confs, size_t n);

/* Loads a persisted backend id (0 if none; FLOE_ECORRUPT for a damaged file). */
int fe_client_load_identity(const char *storage_root, int64_t *ret_id, char node_uuid[UUID_STR_LEN], struct err *e);
int fe_client_start(const struct fe_client_opts *o, struct fe_client **ret, struct err *e);
/* Runs one round (register if needed, heartbeat, report) now; for tests. */
int fe_client_round(struct fe_client *c, struct err *e);
/* Stops and joins. Accepts NULL. */
void fe_client_stop(struct fe_client *c);

#endif
