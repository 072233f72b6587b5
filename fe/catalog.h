/*
 * catalog: the FE's in-memory model of the cluster — backends, resources,
 * storage policies, tables, tablets and their replicas, and the per-tablet
 * cooldown conf (cooldown replica id and term).
 *
 * The catalog changes in exactly one way: catalog_apply() of a journal
 * record (see journal.h and meta.h). The same function runs when a change is
 * made live (after the record is durable) and when the journal is replayed,
 * so a restarted FE rebuilds exactly the state it had. catalog_apply() checks
 * a record fully before changing anything; a record that does not fit the
 * catalog is FLOE_ECORRUPT and leaves the catalog untouched.
 *
 * Fields marked "soft" come from heartbeats and tablet reports; they are not
 * journaled and start empty after a restart.
 *
 * Journal ops (catalog.c): backend_add, backend_addr, backend_decommission,
 * resource_create, resource_drop, policy_create, policy_drop, table_create,
 * table_drop (also opens a remote delete pending entry per cooled tablet),
 * table_set_policy, txn_begin, publish, replica_state, replica_add,
 * replica_drop, cooldown_conf, delete_confirm (audit), master_epoch (epoch
 * must grow) and remote_deleted (closes a pending entry).
 *
 * Invariants:
 *  - ids (backends, tables, tablets, replicas, resources, policies) come
 *    from one counter that only grows (next_id > every id in the catalog);
 *  - a tablet's cooldown_term never decreases (a record lowering it is
 *    refused), so a term once pushed is never reused (DESIGN invariant 4);
 *  - the replicas of a tablet live on distinct backends;
 *  - master_epoch only grows, so two FEs started on the same journal never
 *    serve under the same epoch;
 *  - a resource named by a remote delete pending entry is not dropped.
 *
 * Not thread-safe: the owner serialises access (floe-fe holds one lock).
 */
#ifndef FLOE_FE_CATALOG_H
#define FLOE_FE_CATALOG_H

#include "idmap.h"
#include "uuid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;
struct buf;

enum fe_col_type {
    FE_COL_INT32, FE_COL_INT64, FE_COL_DOUBLE, FE_COL_BOOL, FE_COL_STRING, FE_COL_TIMESTAMP,
};

struct fe_column {
    char *name;
    enum fe_col_type type;
    bool nullable;
};

/* Key columns are the first nkeys columns. */
struct fe_schema {
    int ncols;
    int nkeys;
    struct fe_column *cols;
};

enum fe_key_model { FE_MODEL_DUPLICATE, FE_MODEL_UNIQUE };

enum fe_replica_state {
    FE_REPLICA_NORMAL = 0,
    FE_REPLICA_LAGGING,   /* missed a publish; needs a clone */
    FE_REPLICA_BAD,       /* reported bad or missing on its backend */
    FE_REPLICA_CLONING,   /* a clone from a peer is running */
};

struct fe_backend {
    int64_t id;
    char *host;
    int32_t rpc_port;
    int32_t http_port;
    int64_t registered_ms;
    bool decommissioned;
    /* soft */
    int64_t last_hb_ms;        /* set to the load time after a restart */
    bool ping_inflight;        /* runtime: the FE's ping to it has not returned yet */
    int64_t last_report_ms;
    int64_t nreplicas;         /* replicas placed here (derived) */
    int64_t nuploaders;        /* tablets whose cooldown replica is here (derived) */
    int64_t disk_used_bytes;
    int64_t disk_capacity_bytes;
    int64_t start_time_ms;
    int32_t num_tablets;       /* as the backend last said */
    char version[32];
};

struct fe_replica {
    int64_t id;
    int64_t backend_id;
    int64_t version;           /* highest version the FE knows it has */
    enum fe_replica_state state;
    /* soft: the replica's last tablet report */
    int64_t rep_ms;            /* 0 = not reported since FE start */
    int64_t rep_version;
    int64_t rep_cooldown_replica_id;
    int64_t rep_cooldown_term;
    int64_t rep_cooldowned_version;
    int64_t local_bytes;
    int64_t remote_bytes;
    char rep_meta_id[UUID_STR_LEN];
    uint8_t missing_reports;   /* consecutive backend reports without it */
    int64_t republished_version; /* soft: the version whose publish was re-sent to it (once per version) */
    bool push_pending;         /* soft: its cooldown conf push failed or was deferred; retried next pass */
};

struct fe_tablet {
    int64_t id;
    int64_t table_id;
    int32_t bucket;
    int64_t version;              /* visible version of this tablet */
    int64_t last_txn;             /* the txn that published `version` (0 = none) */
    int64_t publish_ms;           /* soft: when the FE last published it */
    int64_t cooldown_replica_id;  /* 0 = none elected */
    int64_t cooldown_term;        /* 0 = never elected */
    bool push_needed;             /* soft: re-push the conf */
    int nreplicas;
    struct fe_replica *replicas;
};

struct fe_table {
    int64_t id;
    char *name;
    struct fe_schema schema;
    enum fe_key_model model;
    int32_t buckets;
    int32_t replication;
    int64_t policy_id;            /* 0 = none */
    int64_t version;              /* starts at 1, +1 per published load */
    int64_t created_ms;
    int64_t *tablet_ids;          /* buckets entries, index = bucket */
};

enum fe_resource_type { FE_RES_LOCAL, FE_RES_S3 };

/* Credentials are references (env var names, a file and profile), never values. */
struct fe_resource {
    int64_t id;
    char *name;
    enum fe_resource_type type;
    char *root;                 /* local */
    char *endpoint, *region, *bucket, *prefix; /* s3 */
    bool path_style;
    char *access_key_env, *secret_key_env;
    char *credentials_file, *profile;
};

struct fe_policy {
    int64_t id;
    char *name;
    int64_t resource_id;
    int64_t cooldown_ttl_s;       /* 0 when datetime is used */
    int64_t cooldown_datetime_s;  /* epoch seconds; 0 when ttl is used */
};

/* A published load under a client label: a retry with the same label gets
 * this result instead of loading twice. */
struct fe_label {
    int64_t table_id;
    char *label;
    int64_t txn;
    int64_t rows;
    int64_t version;              /* the table version right after it */
    struct fe_label *next;        /* same hash */
};

/*
 * A dropped cooled tablet whose remote prefix data/{tablet_id}/ is not
 * deleted yet ("remote delete pending"). Created by the table_drop record for
 * every tablet with a cooldown term whose table had a policy; removed by a
 * remote_deleted record once a backend confirmed the prefix is gone. The FE
 * first drops every listed replica (so no upload of theirs can land after
 * the delete), then asks one backend to delete the prefix naming the resource,
 * retrying with backoff, also across FE and BE restarts.
 */
struct fe_rdrop {
    int64_t tablet_id;
    int64_t resource_id;
    int nreplicas;
    int64_t *replica_ids;
    int64_t *backend_ids;
    /* soft */
    uint64_t acked;               /* bit k: replica k's drop confirmed (first 64) */
    int attempts;
    int64_t next_ms;              /* next attempt not before this */
    bool busy;                    /* an attempt is in flight */
};

struct fe_params {
    int64_t backend_dead_after_ms;
    int64_t cooldown_replica_timeout_ms;
};

struct catalog {
    struct fe_params params;
    int64_t next_id;
    int64_t next_txn;
    int64_t last_seq;             /* seq of the last applied journal record */
    int64_t max_term;             /* highest cooldown term ever applied */
    int64_t master_epoch;         /* +1 (journaled) each time an FE starts serving as master */
    int64_t nreplicas;            /* total replicas (derived) */
    struct idmap backends;        /* id -> struct fe_backend * */
    struct idmap tables;          /* id -> struct fe_table * */
    struct idmap tablets;         /* id -> struct fe_tablet * */
    struct idmap resources;       /* id -> struct fe_resource * */
    struct idmap policies;        /* id -> struct fe_policy * */
    struct idmap labels;          /* hash(table id, label) -> struct fe_label * chain */
    struct idmap rdrops;          /* tablet id -> struct fe_rdrop * (remote delete pending) */
    int64_t load_ms;              /* when this catalog was loaded */
};

void catalog_init(struct catalog *c, const struct fe_params *params);
/* Frees everything. Accepts NULL and a half-built catalog. */
void catalog_release(struct catalog *c);

/* Lookups; borrowed pointers valid until the next catalog_apply. */
struct fe_backend *catalog_backend(const struct catalog *c, int64_t id);
struct fe_backend *catalog_backend_by_addr(const struct catalog *c, const char *host, int32_t port);
struct fe_table *catalog_table(const struct catalog *c, int64_t id);
struct fe_table *catalog_table_by_name(const struct catalog *c, const char *name);
struct fe_tablet *catalog_tablet(const struct catalog *c, int64_t id);
struct fe_replica *catalog_replica(const struct fe_tablet *t, int64_t replica_id);
struct fe_resource *catalog_resource_by_name(const struct catalog *c, const char *name);
struct fe_resource *catalog_resource(const struct catalog *c, int64_t id);
struct fe_policy *catalog_policy_by_name(const struct catalog *c, const char *name);
struct fe_policy *catalog_policy(const struct catalog *c, int64_t id);
struct fe_rdrop *catalog_rdrop(const struct catalog *c, int64_t tablet_id);

/* The published load of table_id under label, or NULL. */
const struct fe_label *catalog_label(const struct catalog *c, int64_t table_id, const char *label);

/* A backend is alive when it heartbeated within backend_dead_after_ms. */
bool catalog_backend_alive(const struct catalog *c, const struct fe_backend *b, int64_t now_ms);

/* Applies one journal record (see journal record ops in catalog.c). */
int catalog_apply(struct catalog *c, const json_t *rec, struct err *e);

/* Schema text "k:int64,ts:timestamp,v:double,s:string?" ('?' = nullable)
 * with key list "k" or "a,b": keys must be the leading columns. */
int catalog_schema_parse(const char *text, const char *keys, struct fe_schema *ret, struct err *e);
void catalog_schema_release(struct fe_schema *s);
/* "k:int64,..." back to text; keys are not marked. */
void catalog_schema_format(const struct fe_schema *s, struct buf *out);
const char *catalog_col_type_name(enum fe_col_type t);
int catalog_col_type_parse(const char *s, enum fe_col_type *ret);
const char *catalog_replica_state_name(enum fe_replica_state s);
const char *catalog_model_name(enum fe_key_model m);

/* A name for a table, resource or policy: 1..64 of [A-Za-z0-9_-], not starting with '-'. */
bool catalog_name_valid(const char *s);

/* JSON <-> struct helpers shared by records and the checkpoint image. */
json_t *catalog_schema_to_json(const struct fe_schema *s);
json_t *catalog_resource_to_json(const struct fe_resource *r);
json_t *catalog_replica_to_json(const struct fe_replica *r);

/*
 * Checkpoint image: JSON lines, the header {"image":1,"last_seq":..,...},
 * one line per object, then {"end":N} with N the number of object lines.
 * catalog_image_write writes path atomically (temp, fsync, rename, fsync dir).
 * Fault points "image.fsync", "image.rename".
 * catalog_image_load fills an empty catalog; a missing end line or any bad
 * line is FLOE_ECORRUPT naming the file and line.
 */
int catalog_image_write(const struct catalog *c, const char *path, struct err *e);
int catalog_image_load(struct catalog *c, const char *path, struct err *e);

#endif
