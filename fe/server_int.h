/*
 * server_int: state shared by the floe-fe server files (server.c, svc.c,
 * load.c, scan.c). Lock order: s->lock (catalog) before s->clients_lock and
 * s->cursors_lock; never hold any of them across an RPC.
 */
#ifndef FLOE_FE_SERVER_INT_H
#define FLOE_FE_SERVER_INT_H

#include "auth.h"
#include "backend_idl.h"
#include "catalog.h"
#include "coolconf.h"
#include "frontend_idl.h"
#include "handshake.h"
#include "idmap.h"
#include "meta.h"
#include "metrics.h"
#include "server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct httpd;
struct rpc_server;
struct rpc_client;
struct tpool;

/* Three clients per backend: control (deletes, drops, clones, creates), data
 * (loads, scans) and push (cooldown confs and pings, with short connect and
 * call timeouts), so neither a long load nor a hung backend delays a conf
 * push or holds the sender pool for long. */
enum be_chan { BE_CTL = 0, BE_DATA = 1, BE_PUSH = 2 };
#define BE_CHANS 3
#define FE_PUSH_CONNECT_MS 1000   /* connect + handshake of a push */
#define FE_PUSH_CALL_MS 10000     /* one push call */
#define FE_PUSH_THREADS 16        /* backends pushed to at once */

struct be_client {
    int64_t backend_id;
    char *host;
    int port;
    struct rpc_client *c[BE_CHANS];
};

struct fe_metrics {
    struct metric *confirmed;
    struct metric *refused[HS__COUNT];
    struct metric *elected, *reelected, *no_candidate;
    struct metric *pushes, *push_errors;
    struct metric *txns_ok, *txns_failed, *rows_loaded;
    struct metric *repairs_ok, *repairs_failed;
    struct metric *backends_alive, *backends_dead;
    struct metric *scans, *reports;
    struct metric *fenced;           /* calls a backend refused: this FE's epoch is stale */
    struct metric *rdrop_done, *rdrop_failed, *rdrop_pending;
};

struct fe_server {
    struct fe_conf conf;
    struct fe_meta *meta;
    pthread_mutex_t lock;            /* the catalog */
    struct auth_token token;
    struct rpc_server *rpc;
    struct httpd *http;
    struct idl_frontend_service_handlers handlers;

    pthread_mutex_t clients_lock;
    struct idmap clients;            /* backend id -> struct be_client * */
    struct be_client **retired;      /* replaced clients, freed at stop */
    size_t nretired;

    pthread_mutex_t cursors_lock;
    struct idmap cursors;            /* cursor id -> struct fe_cursor * */
    int64_t next_cursor;

    struct tpool *sender;            /* async deletes, drops, pings */
    struct tpool *pusher;            /* cooldown conf pushes, one job per backend at a time */
    struct idmap push_busy;          /* backends with a push in flight (catalog lock) */
    pthread_t bg, repair_th;
    bool bg_started, repair_started;
    atomic_bool stopping;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;

    struct idmap busy;               /* tablets with a repair in flight (catalog lock) */
    char **labels_running;           /* load labels in flight (catalog lock) */
    size_t nlabels_running;
    struct hs_stats hs;              /* catalog lock */
    struct fe_metrics m;
    int64_t epoch;                   /* master epoch journaled at start (catalog master_epoch) */
    char fe_address[300];            /* advertise_host:rpc_port sent with pings; "" = not sent */
};

int64_t fe_now_ms(void);

/* A client for backend id (created on first use; re-created when the
 * backend's address changed). Borrowed; valid until the server stops. */
int fe_be_client(struct fe_server *s, int64_t backend_id, enum be_chan ch, struct rpc_client **ret,
                 struct err *e);

/* Async jobs on the sender pool. */
void fe_send_pushes(struct fe_server *s, struct coolconf_push_vec *pv);   /* takes pv's array */
void fe_send_delete(struct fe_server *s, int64_t backend_id, int64_t tablet_id, int64_t delete_id, int64_t term);
void fe_send_drop(struct fe_server *s, int64_t backend_id, int64_t tablet_id, int64_t replica_id);
/* A dropped tablet: every replica is dropped; when cooled, the last one is
 * told to delete the remote prefix too, and only after all others acked. */
void fe_send_tablet_drop(struct fe_server *s, int64_t tablet_id, const int64_t *backends, const int64_t *replicas,
                         int n, bool cooled);

/* A backend call failed with err: when it is FLOE_ENOTMASTER (the backend
 * has seen a higher master epoch), this FE was deposed: it steps down and
 * counts it. Returns true in that case. */
bool fe_fenced(struct fe_server *s, int64_t backend_id, const char *what, const struct err *err);

/* Remote delete pending entries (dropped cooled tablets): one pass starts an
 * attempt for every entry that is due (server.c). */
void fe_rdrop_pass(struct fe_server *s);

/* Conversions shared by the handlers. */
void fe_schema_to_idl(const struct fe_schema *s, enum fe_key_model model, struct idl_tablet_schema *out);
void fe_resource_to_idl(const struct fe_resource *r, struct idl_resource *out);
void fe_policy_to_idl(const struct catalog *c, const struct fe_policy *p, struct idl_storage_policy *out);
/* The replica's state as the TabletState enum. */
int32_t fe_state_to_idl(enum fe_replica_state st);
/* Fills a create request for replica r of tablet t (catalog lock held). */
void fe_fill_create(const struct catalog *c, const struct fe_tablet *t, const struct fe_replica *r,
                    struct idl_create_tablet_req *req);

/* Handlers (svc.c, load.c, scan.c). */
void fe_svc_init(struct fe_server *s);
int fe_svc_load(void *ctx, const struct idl_load_req *req, struct idl_load_reply *reply, struct err *e);
int fe_svc_scan(void *ctx, const struct idl_table_scan_req *req, struct idl_table_scan_reply *reply,
                struct err *e);
int fe_svc_scan_close(void *ctx, const struct idl_table_scan_close_req *req,
                      struct idl_table_scan_close_reply *reply, struct err *e);
void fe_cursors_expire(struct fe_server *s, int64_t idle_ms);
void fe_cursors_free_all(struct fe_server *s);

/* Background (server.c). */
void fe_repair_round(struct fe_server *s);

#endif
