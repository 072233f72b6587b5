/*
 * server: the floe-fe process around the FE core — the FrontendService RPC
 * server, the HTTP endpoints (/metrics, /health, /status), RPC clients to
 * the backends and the background work (liveness, cooldown-conf passes and
 * pushes, repair, idle scan cursors). One mutex guards the catalog; no RPC
 * is ever made while holding it.
 */
#ifndef FLOE_FE_SERVER_H
#define FLOE_FE_SERVER_H

#include "conf.h"

#include <stdint.h>
#include <stdio.h>

struct err;
struct fe_server;

struct fe_conf {
    int64_t rpc_port;
    int64_t http_port;
    char *listen_host;
    char *advertise_host;
    char *meta_dir;
    char *cluster_token_file;
    int64_t heartbeat_interval_s;
    int64_t backend_dead_after_s;
    int64_t cooldown_replica_timeout_s;
    int64_t cooldown_conf_check_interval_s;
    int64_t repair_interval_s;
    int64_t checkpoint_records;
    int64_t rpc_workers;
    int64_t load_idle_timeout_s;   /* an open multi-chunk load idle this long is aborted; 0 = default 300 */
    char *log_level;
    char *log_file;
};

/* The fe.conf table (drives parsing, --help-config and docs/fe.md). */
extern const struct conf_entry fe_conf_table[];

/* Loads path (NULL = defaults only) and applies "key=value" overrides. */
int fe_conf_load(struct fe_conf *c, const char *path, char **overrides, int noverrides, struct err *e);
void fe_conf_release(struct fe_conf *c);

/* Opens the meta dir, loads the token, starts RPC, HTTP and background threads. */
int fe_server_start(const struct fe_conf *conf, struct fe_server **ret, struct err *e);
int fe_server_rpc_port(const struct fe_server *s);
/* Stops everything, writes a checkpoint, frees. Accepts NULL. */
void fe_server_stop(struct fe_server *s);

#endif
