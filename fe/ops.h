/*
 * ops: the catalog operations behind the FE's RPCs. Each validates its
 * input against the catalog (bad input is FLOE_EBADINPUT / FLOE_EEXIST /
 * FLOE_ENOTFOUND with a message naming the thing, and changes nothing),
 * then commits one journal record through meta_commit.
 */
#ifndef FLOE_FE_OPS_H
#define FLOE_FE_OPS_H

#include "catalog.h"

#include <stdbool.h>
#include <stdint.h>

struct err;
struct fe_meta;

/* Registers a backend at host:rpc_port. known_id > 0 is the id the backend
 * persisted earlier: it must exist (its address is updated when it moved).
 * known_id == 0 on first start: a backend at the same address gets its old
 * id back, otherwise a new id is assigned and journaled. */
int ops_backend_register(struct fe_meta *m, int64_t known_id, const char *host, int32_t rpc_port,
                         int32_t http_port, int64_t now_ms, int64_t *ret_id, struct err *e);
int ops_backend_decommission(struct fe_meta *m, int64_t id, struct err *e);

struct ops_resource_args {
    const char *name;
    const char *type;              /* "s3" | "local" */
    const char *root;
    const char *endpoint, *region, *bucket, *prefix;
    bool path_style;
    const char *access_key_env, *secret_key_env;
    const char *credentials_file, *profile;
};
int ops_resource_create(struct fe_meta *m, const struct ops_resource_args *a, struct err *e);

/* Exactly one of ttl_s > 0 or datetime_s > 0. */
int ops_policy_create(struct fe_meta *m, const char *name, const char *resource, int64_t ttl_s,
                      int64_t datetime_s, struct err *e);

struct ops_table_args {
    const char *name;
    const char *schema;           /* "k:int64,v:double?" */
    const char *keys;             /* "k" */
    const char *model;            /* "duplicate" (default) | "unique" */
    int32_t buckets;              /* 1..65536 */
    int32_t replicas;             /* 1..16 */
    const char *policy;           /* NULL or "" = none */
};
/* Places replicas, journals the table; with a policy elects the cooldown
 * replicas right away (a second record). */
int ops_table_create(struct fe_meta *m, const struct ops_table_args *a, int64_t now_ms, int64_t *ret_id,
                     struct err *e);
int ops_table_drop(struct fe_meta *m, const char *name, struct err *e);

/* Journals a new transaction id for a load into table_id. */
int ops_txn_begin(struct fe_meta *m, int64_t table_id, int64_t *ret_txn, struct err *e);

/* Publishes txn: each of the n tablets moves to its next version (returned
 * in ret_versions, may be NULL); replicas listed in lagging (nlag) stay
 * behind and are marked lagging. */
int ops_publish(struct fe_meta *m, int64_t table_id, int64_t txn, const int64_t *tablets, size_t n,
                const int64_t *lagging, size_t nlag, int64_t *ret_versions, struct err *e);
/* Same, recording the client's label (may be NULL or "") and row count. */
int ops_publish_labeled(struct fe_meta *m, int64_t table_id, int64_t txn, const int64_t *tablets, size_t n,
                        const int64_t *lagging, size_t nlag, const char *label, int64_t rows, int64_t *ret_versions,
                        struct err *e);

/* Duration text "30s", "10m", "1h", "7d", "500ms"→refused (<1 s); bare numbers are seconds. */
int ops_parse_duration_s(const char *text, int64_t *ret_s, struct err *e);
/* "2026-12-01T00:00:00Z" to epoch seconds. */
int ops_parse_datetime(const char *text, int64_t *ret_s, struct err *e);

#endif
