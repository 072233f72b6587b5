/* Shared set-up for the FE unit runners: a meta dir in a temp directory,
 * backends, a local resource, a policy and tables, all made through ops_*. */
#ifndef FLOE_FE_FIXTURE_H
#define FLOE_FE_FIXTURE_H

#include "buf.h"
#include "catalog.h"
#include "err.h"
#include "log.h"
#include "meta.h"
#include "ops.h"
#include "testutil.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define FX_NOW 1000000000LL

static inline struct fe_meta *fx_open(const char *dir)
{
    struct fe_params p = { .backend_dead_after_ms = 30000, .cooldown_replica_timeout_ms = 600000 };
    struct fe_meta *m = NULL;
    struct err e = { 0 };
    int r = meta_open(dir, &p, &m, &e);
    ck_assert_msg(r == 0, "meta_open: %s", err_msg(&e));
    return m;
}

/* n backends at 127.0.0.1:9001.., heartbeating at FX_NOW. */
static inline void fx_backends(struct fe_meta *m, int n)
{
    for (int i = 0; i < n; i++) {
        int64_t id;
        struct err e = { 0 };
        int r = ops_backend_register(m, 0, "127.0.0.1", 9001 + i, 8001 + i, FX_NOW, &id, &e);
        ck_assert_msg(r == 0, "register: %s", err_msg(&e));
    }
}

static inline void fx_policy(struct fe_meta *m)
{
    struct err e = { 0 };
    struct ops_resource_args ra = { .name = "store", .type = "local", .root = "/tmp/floe-shared" };
    ck_assert_msg(ops_resource_create(m, &ra, &e) == 0, "resource: %s", err_msg(&e));
    ck_assert_msg(ops_policy_create(m, "cool", "store", 60, 0, &e) == 0, "policy: %s", err_msg(&e));
}

static inline struct fe_table *fx_table(struct fe_meta *m, const char *name, int buckets, int replicas,
                                        const char *policy)
{
    struct err e = { 0 };
    struct ops_table_args ta = { .name = name, .schema = "k:int64,ts:timestamp,v:double,s:string?",
                                 .keys = "k", .buckets = buckets, .replicas = replicas, .policy = policy };
    int64_t id;
    int r = ops_table_create(m, &ta, FX_NOW, &id, &e);
    ck_assert_msg(r == 0, "table create: %s", err_msg(&e));
    return catalog_table(&m->cat, id);
}

static inline struct fe_tablet *fx_tablet(struct fe_meta *m, struct fe_table *t, int bucket)
{
    return catalog_tablet(&m->cat, t->tablet_ids[bucket]);
}

/* Per-test set-up of a runner: quiet logs and a fresh temp dir (see fx_teardown). */
static inline char *fx_tmpdir(void)
{
    log_set_level(LOG_ERROR);
    return test_tmpdir();
}

/* fx_tmpdir, then a meta there with nbe backends and, with policy, the "cool" policy. */
static inline struct fe_meta *fx_meta(char **ret_dir, int nbe, bool policy)
{
    *ret_dir = fx_tmpdir();
    struct fe_meta *m = fx_open(*ret_dir);
    fx_backends(m, nbe);
    if (policy)
        fx_policy(m);
    return m;
}

/* Per-test tear-down: closes m (may be NULL), removes dir and frees it. */
static inline void fx_teardown(struct fe_meta *m, char *dir)
{
    meta_close(m);
    struct err e = { 0 };
    fs_remove_all(dir, &e);
    free(dir);
}

/* Every backend heartbeats at now. */
static inline void fx_heartbeat_all(struct fe_meta *m, int64_t now)
{
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key)
            ((struct fe_backend *)m->cat.backends.slots[i].val)->last_hb_ms = now;
}

#endif
