/*
 * cooldown_testutil: two backends in one process (engine + resources +
 * file cache + cooldown each) sharing one local object store, and checks
 * of the cooldown invariants.
 */
#ifndef FLOE_COOLDOWN_TESTUTIL_H
#define FLOE_COOLDOWN_TESTUTIL_H

#include "be_testutil.h"
#include "cooldown.h"
#include "file_cache.h"
#include "objstore.h"
#include "remote_meta.h"
#include "resource.h"

#include <inttypes.h>
#include <unistd.h>

struct ct_be {
    char *root;
    int64_t replica_id;
    struct engine *eng;
    struct resource_registry *reg;
    struct file_cache *cache;
    struct cooldown *cd;
    struct objstore *os;   /* this BE's handle of the shared store (borrowed from reg) */
};

static inline struct objstore *ct_open_store(const char *dir)
{
    struct objstore_conf conf;
    objstore_conf_init(&conf);
    struct err e = { 0 };
    ck_assert_int_eq(objstore_conf_set(&conf, "type", "local", &e), 0);
    ck_assert_int_eq(objstore_conf_set(&conf, "root", dir, &e), 0);
    struct objstore *os;
    ck_assert_msg(objstore_open(&conf, &os, &e) == 0, "%s", err_msg(&e));
    objstore_conf_release(&conf);
    return os;
}

static inline void ct_be_open(struct ct_be *b, const char *base, const char *name, int64_t replica_id,
                              int64_t grace_ms)
{
    b->root = xasprintf("%s/%s", base, name);
    b->replica_id = replica_id;
    b->eng = bt_engine(b->root);
    b->reg = resource_registry_new();
    char *store = xasprintf("%s/store", base);
    b->os = ct_open_store(store);
    free(store);
    resource_put_handle(b->reg, "res1", b->os);
    char *cdir = xasprintf("%s/cache", b->root);
    struct file_cache_opts fo = { .dir = cdir, .capacity_bytes = 64u << 20, .block_size = 256u << 10 };
    struct err e = { 0 };
    ck_assert_msg(file_cache_open(&fo, &b->cache, &e) == 0, "%s", err_msg(&e));
    free(cdir);
    struct cooldown_opts o;
    cooldown_opts_default(&o);
    o.background = false;
    o.gc_grace_ms = grace_ms;
    o.upload_threads = 2;
    ck_assert_msg(cooldown_open(b->eng, b->reg, b->cache, &o, &b->cd, &e) == 0, "%s", err_msg(&e));
}

static inline void ct_be_close(struct ct_be *b)
{
    cooldown_close(b->cd);
    engine_close(b->eng);
    file_cache_close(b->cache);
    resource_registry_free(b->reg);
    free(b->root);
    memset(b, 0, sizeof(*b));
}

/* Creates tablet tid with the test schema, policy "p1" on res1 (cold at once), and loads versions 2..nv. */
static inline void ct_tablet(struct ct_be *b, int64_t tid, int nver)
{
    struct schema *s = bt_schema(KEY_DUPLICATE);
    struct err e = { 0 };
    ck_assert_msg(engine_create_tablet(b->eng, tid, b->replica_id, s, &e) == 0, "%s", err_msg(&e));
    for (int v = 2; v <= nver; v++)
        bt_load(b->eng, tid, 100 + v, v, s, (v - 2) * 1000, (v - 1) * 1000, v);
    schema_unref(s);
    ck_assert_msg(cooldown_set_policy(b->cd, tid, "p1", "res1", 0, 1, &e) == 0, "%s", err_msg(&e));
}

static inline void ct_expect(struct bt_rows *out, int nver)
{
    struct schema *s = bt_schema(KEY_DUPLICATE);
    for (int v = 2; v <= nver; v++)
        bt_expect(out, s, (v - 2) * 1000, (v - 1) * 1000, v);
    bt_rows_sort(out);
    schema_unref(s);
}

static inline void ct_assert_rows(struct ct_be *b, int64_t tid, int nver)
{
    struct bt_rows want = { 0 }, got = { 0 };
    ct_expect(&want, nver);
    bt_scan_all(b->eng, tid, -1, &got);
    bt_rows_assert_equal(&want, &got);
    bt_rows_free(&want);
    bt_rows_free(&got);
}

static inline enum cooldown_action ct_step(struct ct_be *b, int64_t tid)
{
    enum cooldown_action a;
    struct err e = { 0 };
    int r = cooldown_tablet_step(b->cd, tid, &a, &e);
    ck_assert_msg(r == 0, "step on replica %" PRId64 ": %s", b->replica_id, err_msg(&e));
    return a;
}

/* Every remote rowset of the tablet has all its objects, with the sizes the meta records. */
static inline void ct_assert_remote_complete(struct ct_be *b, int64_t tid)
{
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(b->eng, tid, &v, &e), 0);
    for (size_t i = 0; i < v->nrowsets; i++) {
        struct rowset *rs = v->rowsets[i];
        if (rowset_is_local(rs)) {
            for (int sg = 0; sg < rs->nsegs; sg++) {
                char *p = rowset_segment_path(rs, sg);
                ck_assert_msg(access(p, F_OK) == 0, "local segment %s is missing", p);
                free(p);
            }
            continue;
        }
        for (int sg = 0; sg < rs->nsegs; sg++) {
            char *k = remote_segment_key(tid, rs->id, sg);
            struct objstore_info info;
            int r = objstore_head(b->os, k, &info, &e);
            ck_assert_msg(r == 0, "replica %" PRId64 " references missing object %s: %s", b->replica_id, k,
                          err_msg(&e));
            ck_assert_uint_eq(info.size, rs->segs[sg].size);
            free(k);
        }
    }
    ck_assert_uint_eq(v->cd.n_upload_intents, 0);
    version_unref(v);
}

static inline size_t ct_count_objects(struct objstore *os, int64_t tid)
{
    char *pre = remote_tablet_prefix(tid);
    struct objstore_list l = { 0 };
    struct err e = { 0 };
    ck_assert_int_eq(objstore_list(os, pre, &l, &e), 0);
    size_t n = l.n;
    objstore_list_release(&l);
    free(pre);
    return n;
}

static inline size_t ct_remote_rowsets(struct ct_be *b, int64_t tid, char meta_id[UUID_STR_LEN])
{
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(b->eng, tid, &v, &e), 0);
    size_t n = 0;
    for (size_t i = 0; i < v->nrowsets; i++)
        n += !rowset_is_local(v->rowsets[i]);
    if (meta_id)
        memcpy(meta_id, v->cd.cooldown_meta_id, UUID_STR_LEN);
    version_unref(v);
    return n;
}

#endif
