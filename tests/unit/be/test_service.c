/*
 * Unit tests for be/service (BackendService over RPC) and be/fe_client,
 * with real RPC servers on loopback: loads, cursors, predicates by name,
 * bad batches, clone between two engines, registration with a small
 * FrontendService stand-in that records what it receives.
 */
#include "auth.h"
#include "be_testutil.h"
#include "fe_client.h"
#include "frontend_idl.h"
#include "fsutil.h"
#include "idl_conv.h"
#include "log.h"
#include "rpc.h"
#include "service.h"

#include <unistd.h>

static struct auth_token token;

struct node {
    char *dir;
    struct engine *eng;
    struct be_service *svc;
    struct rpc_server *srv;
    struct rpc_client *cl;
    int64_t backend_id;
};

static void node_start(struct node *n)
{
    struct err e = { 0 };
    memset(n, 0, sizeof(*n));
    n->dir = test_tmpdir();
    n->eng = bt_engine(n->dir);
    struct be_service_opts so = { .eng = n->eng, .token = &token, .backend_id = &n->backend_id };
    ck_assert_int_eq(be_service_new(&so, &n->svc, &e), 0);
    struct rpc_server_opts ro = { .name = "be", .host = "127.0.0.1", .port = 0, .token = &token, .workers = 2 };
    ck_assert_int_eq(rpc_server_new(&ro, &n->srv, &e), 0);
    ck_assert_int_eq(be_service_register(n->svc, n->srv, &e), 0);
    ck_assert_msg(rpc_server_start(n->srv, &e) == 0, "%s", err_msg(&e));
    struct rpc_client_opts co = { .host = "127.0.0.1", .port = rpc_server_port(n->srv), .token = &token };
    ck_assert_int_eq(rpc_client_new(&co, &n->cl, &e), 0);
}

static void node_stop(struct node *n)
{
    rpc_client_free(n->cl);
    rpc_server_free(n->srv);
    be_service_free(n->svc);
    engine_close(n->eng);
    fs_remove_all(n->dir, NULL);
    free(n->dir);
}

static void create(struct node *n, int64_t tid, struct schema *s)
{
    struct idl_create_tablet_req req;
    idl_create_tablet_req_init(&req);
    req.tablet_id = tid;
    req.replica_id = 100 + tid;
    idl_conv_schema_to(s, NULL, 0, &req.schema);
    struct idl_create_tablet_reply rep;
    struct err e = { 0 };
    ck_assert_msg(idl_backend_service_create_tablet(n->cl, &req, &rep, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(rep.tablet.version, 1);
    idl_create_tablet_reply_release(&rep);
    /* a retried create is fine */
    ck_assert_int_eq(idl_backend_service_create_tablet(n->cl, &req, &rep, &e), 0);
    idl_create_tablet_reply_release(&rep);
    idl_create_tablet_req_release(&req);
}

static void load(struct node *n, int64_t tid, int64_t txn, int64_t version, const struct schema *s, int64_t from,
                 int64_t to)
{
    struct err e = { 0 };
    struct idl_write_rowset_req w;
    idl_write_rowset_req_init(&w);
    w.txn_id = txn;
    w.tablet_id = tid;
    struct column_batch b;
    bt_batch(&b, s, from, to, 0);
    idl_conv_batch_to(&b, idl_write_rowset_req_add_batches(&w));
    column_batch_release(&b);
    struct idl_write_rowset_reply wr;
    ck_assert_msg(idl_backend_service_write_rowset(n->cl, &w, &wr, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(wr.num_rows, to - from);
    ck_assert_int_eq(wr.txn_rows, to - from);
    idl_write_rowset_reply_release(&wr);
    idl_write_rowset_req_release(&w);
    struct idl_commit_txn_req c;
    idl_commit_txn_req_init(&c);
    c.txn_id = txn;
    idl_commit_txn_req_add_tablet_ids(&c, tid);
    struct idl_commit_txn_reply cr;
    ck_assert_int_eq(idl_backend_service_commit_txn(n->cl, &c, &cr, &e), 0);
    ck_assert_uint_eq(cr.tablets_len, 1);
    ck_assert_int_eq(cr.tablets[0].code, 0);
    ck_assert_int_eq(cr.rowsets[0].num_rows, to - from);
    idl_commit_txn_reply_release(&cr);
    idl_commit_txn_req_release(&c);
    struct idl_publish_version_req p;
    idl_publish_version_req_init(&p);
    p.txn_id = txn;
    struct idl_tablet_version *tv = idl_publish_version_req_add_tablets(&p);
    tv->tablet_id = tid;
    tv->version = version;
    struct idl_publish_version_reply pr;
    ck_assert_int_eq(idl_backend_service_publish_version(n->cl, &p, &pr, &e), 0);
    ck_assert_int_eq(pr.tablets[0].code, 0);
    ck_assert_int_eq(pr.tablets[0].version, version);
    idl_publish_version_reply_release(&pr);
    idl_publish_version_req_release(&p);
}

/* Scans through cursors; returns rows (sorted texts) and the number of calls made. */
static size_t scan_rpc(struct node *n, int64_t tid, struct idl_scan_open_req *req, struct bt_rows *out)
{
    struct err e = { 0 };
    req->tablet_id = tid;
    struct idl_scan_open_reply r;
    ck_assert_msg(idl_backend_service_scan_open(n->cl, req, &r, &e) == 0, "%s", err_msg(&e));
    struct schema *s;
    /* the reply schema describes the projected columns (keys may come later): only the types matter here */
    for (size_t i = 0; i < r.schema.columns_len; i++)
        r.schema.columns[i].is_key = false;
    r.schema.key_model = IDL_KEY_MODEL_DUPLICATE;
    ck_assert_msg(idl_conv_schema_from(&r.schema, &s, &e) == 0, "%s", err_msg(&e));
    size_t calls = 1;
    struct column_batch b;
    ck_assert_msg(idl_conv_batch_from(&r.batch, s, &b, &e) == 0, "%s", err_msg(&e));
    bt_rows_add_batch(out, &b);
    column_batch_release(&b);
    bool eos = r.eos;
    int64_t cur = r.cursor_id;
    idl_scan_open_reply_release(&r);
    while (!eos) {
        struct idl_scan_next_req nr = { .cursor_id = cur };
        struct idl_scan_next_reply rep;
        ck_assert_int_eq(idl_backend_service_scan_next(n->cl, &nr, &rep, &e), 0);
        ck_assert_int_eq(idl_conv_batch_from(&rep.batch, s, &b, &e), 0);
        bt_rows_add_batch(out, &b);
        column_batch_release(&b);
        eos = rep.eos;
        idl_scan_next_reply_release(&rep);
        calls++;
    }
    schema_unref(s);
    bt_rows_sort(out);
    return calls;
}

START_TEST(load_and_scan_over_rpc)
{
    struct node n;
    node_start(&n);
    struct schema *s = bt_schema(KEY_DUPLICATE);
    create(&n, 5, s);
    load(&n, 5, 1, 2, s, 0, 5000);
    load(&n, 5, 2, 3, s, 5000, 7000);
    struct idl_scan_open_req req;
    idl_scan_open_req_init(&req);
    req.batch_rows = 1000;
    struct bt_rows got = { 0 }, want = { 0 };
    size_t calls = scan_rpc(&n, 5, &req, &got);
    ck_assert_uint_ge(calls, 7);
    bt_expect(&want, s, 0, 7000, 0);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
    ck_assert_uint_eq(be_service_cursors(n.svc), 0);
    /* projection by name + predicates + limit */
    idl_scan_open_req_add_columns(&req, "s");
    idl_scan_open_req_add_columns(&req, "k");
    struct idl_predicate *p = idl_scan_open_req_add_predicates(&req);
    tidl_set_str(&p->column, "k");
    p->op = IDL_PRED_OP_GE;
    idl_predicate_add_values(p)->i = 6990;
    p = idl_scan_open_req_add_predicates(&req);
    tidl_set_str(&p->column, "s");
    p->op = IDL_PRED_OP_IS_NOT_NULL;
    scan_rpc(&n, 5, &req, &got);
    size_t expect = 0;
    for (int k = 6990; k < 7000; k++)
        expect += k % 5 != 2;
    ck_assert_uint_eq(got.n, expect);
    ck_assert_ptr_nonnull(strstr(got.v[0], "|699"));
    bt_rows_free(&got);
    /* unknown column */
    struct err e = { 0 };
    idl_scan_open_req_add_columns(&req, "nope");
    struct idl_scan_open_reply r;
    ck_assert_int_eq(idl_backend_service_scan_open(n.cl, &req, &r, &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "'nope'"));
    idl_scan_open_req_release(&req);
    /* an abandoned cursor is closed by scan_close */
    idl_scan_open_req_init(&req);
    req.tablet_id = 5;
    req.batch_rows = 10;
    ck_assert_int_eq(idl_backend_service_scan_open(n.cl, &req, &r, &e), 0);
    ck_assert(!r.eos);
    ck_assert_uint_eq(be_service_cursors(n.svc), 1);
    struct idl_scan_close_req cr = { .cursor_id = r.cursor_id };
    struct idl_scan_close_reply crr;
    ck_assert_int_eq(idl_backend_service_scan_close(n.cl, &cr, &crr, &e), 0);
    ck_assert(crr.existed);
    ck_assert_uint_eq(be_service_cursors(n.svc), 0);
    struct idl_scan_next_req nr = { .cursor_id = r.cursor_id };
    struct idl_scan_next_reply nrep;
    ck_assert_int_eq(idl_backend_service_scan_next(n.cl, &nr, &nrep, &e), FLOE_ENOTFOUND);
    idl_scan_open_reply_release(&r);
    idl_scan_open_req_release(&req);
    /* tablet info */
    struct idl_tablet_info_req ti;
    idl_tablet_info_req_init(&ti);
    ti.with_rowsets = true;
    struct idl_tablet_info_reply tr;
    ck_assert_int_eq(idl_backend_service_tablet_info(n.cl, &ti, &tr, &e), 0);
    ck_assert_uint_eq(tr.tablets_len, 1);
    ck_assert_int_eq(tr.tablets[0].version, 3);
    ck_assert_int_eq(tr.tablets[0].num_rows, 7000);
    ck_assert_int_eq(tr.tablets[0].replica_id, 105);
    ck_assert_uint_eq(tr.tablets[0].rowsets_len, 3);
    idl_tablet_info_reply_release(&tr);
    idl_tablet_info_req_release(&ti);
    schema_unref(s);
    node_stop(&n);
}
END_TEST

START_TEST(bad_batches_write_nothing)
{
    struct node n;
    node_start(&n);
    struct schema *s = bt_schema(KEY_DUPLICATE);
    create(&n, 6, s);
    struct err e = { 0 };
    struct column_batch b;
    bt_batch(&b, s, 0, 10, 0);
    for (int k = 0; k < 4; k++) {
        struct idl_write_rowset_req w;
        idl_write_rowset_req_init(&w);
        w.txn_id = 1;
        w.tablet_id = 6;
        struct idl_row_batch *rb = idl_write_rowset_req_add_batches(&w);
        idl_conv_batch_to(&b, rb);
        const char *want;
        if (k == 0) {
            rb->num_rows = 11;
            want = "values for 11 rows";
        } else if (k == 1) {
            rb->columns[4].str_lens[0] += 1;
            want = "string lengths sum";
        } else if (k == 2) {
            rb->columns[2].type = IDL_COLUMN_TYPE_INT64;
            want = "column 'd'";
        } else {
            rb->columns_len = 5;
            want = "5 columns";
        }
        struct idl_write_rowset_reply wr;
        ck_assert_int_eq(idl_backend_service_write_rowset(n.cl, &w, &wr, &e), FLOE_EBADINPUT);
        ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in '%s'", want, e.msg);
        if (k == 3)
            rb->columns_len = 6;
        idl_write_rowset_req_release(&w);
    }
    column_batch_release(&b);
    char *ddir = xasprintf("%s/data/6", n.dir);
    ck_assert_uint_eq(bt_count_files(ddir), 0);
    free(ddir);
    schema_unref(s);
    node_stop(&n);
}
END_TEST

START_TEST(clone_between_backends)
{
    struct node a, b;
    node_start(&a);
    node_start(&b);
    struct schema *s = bt_schema(KEY_UNIQUE);
    create(&a, 7, s);
    load(&a, 7, 1, 2, s, 0, 3000);
    load(&a, 7, 2, 3, s, 1000, 4000);
    /* b has an older copy: clone replaces it */
    create(&b, 7, s);
    load(&b, 7, 1, 2, s, 0, 3000);
    struct idl_clone_req req;
    idl_clone_req_init(&req);
    req.tablet_id = 7;
    req.replica_id = 107;
    tidl_set_str(&req.src_host, "127.0.0.1");
    req.src_port = rpc_server_port(a.srv);
    struct idl_clone_reply rep;
    struct err e = { 0 };
    ck_assert_msg(idl_backend_service_clone(b.cl, &req, &rep, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(rep.tablet.version, 3);
    idl_clone_reply_release(&rep);
    struct bt_rows ra = { 0 }, rb = { 0 };
    bt_scan_all(a.eng, 7, -1, &ra);
    bt_scan_all(b.eng, 7, -1, &rb);
    ck_assert_uint_eq(ra.n, 4000);
    bt_rows_assert_equal(&ra, &rb);
    bt_rows_free(&rb);
    /* and into a BE that had no copy */
    struct node c;
    node_start(&c);
    ck_assert_int_eq(idl_backend_service_clone(c.cl, &req, &rep, &e), 0);
    idl_clone_reply_release(&rep);
    bt_scan_all(c.eng, 7, -1, &rb);
    bt_rows_assert_equal(&ra, &rb);
    bt_rows_free(&rb);
    /* the source's snapshot was released */
    engine_close(c.eng);
    c.eng = bt_engine(c.dir);
    bt_scan_all(c.eng, 7, -1, &rb);
    bt_rows_assert_equal(&ra, &rb);
    bt_rows_free(&ra);
    bt_rows_free(&rb);
    idl_clone_req_release(&req);
    schema_unref(s);
    node_stop(&c);
    node_stop(&b);
    node_stop(&a);
}
END_TEST


START_TEST(idle_cursors_expire)
{
    struct node n;
    node_start(&n);
    struct schema *s = bt_schema(KEY_DUPLICATE);
    create(&n, 4, s);
    load(&n, 4, 1, 2, s, 0, 3000);
    /* a second service over the same engine with a tiny idle timeout */
    struct be_service *svc;
    struct err e = { 0 };
    struct be_service_opts so = { .eng = n.eng, .cursor_idle_ms = 1, .snapshot_idle_ms = 1 };
    ck_assert_int_eq(be_service_new(&so, &svc, &e), 0);
    struct rpc_server *srv;
    struct rpc_server_opts ro = { .name = "be2", .host = "127.0.0.1", .token = &token, .workers = 1 };
    ck_assert_int_eq(rpc_server_new(&ro, &srv, &e), 0);
    ck_assert_int_eq(be_service_register(svc, srv, &e), 0);
    ck_assert_int_eq(rpc_server_start(srv, &e), 0);
    struct rpc_client *cl;
    struct rpc_client_opts co = { .host = "127.0.0.1", .port = rpc_server_port(srv), .token = &token };
    ck_assert_int_eq(rpc_client_new(&co, &cl, &e), 0);
    struct idl_scan_open_req req;
    idl_scan_open_req_init(&req);
    req.tablet_id = 4;
    req.batch_rows = 10;
    struct idl_scan_open_reply r;
    ck_assert_int_eq(idl_backend_service_scan_open(cl, &req, &r, &e), 0);
    ck_assert_uint_eq(be_service_cursors(svc), 1);
    struct idl_snapshot_req sr;
    idl_snapshot_req_init(&sr);
    sr.tablet_id = 4;
    struct idl_snapshot_reply snap;
    ck_assert_int_eq(idl_backend_service_make_snapshot(cl, &sr, &snap, &e), 0);
    int64_t deadline = mono_now_ms() + 10000;
    do {
        usleep(5000);
        be_service_tick(svc);
    } while (be_service_cursors(svc) > 0 && mono_now_ms() < deadline);
    ck_assert_uint_eq(be_service_cursors(svc), 0);
    struct idl_scan_next_req nr = { .cursor_id = r.cursor_id };
    struct idl_scan_next_reply nrep;
    ck_assert_int_eq(idl_backend_service_scan_next(cl, &nr, &nrep, &e), FLOE_ENOTFOUND);
    struct idl_fetch_file_req fr;
    idl_fetch_file_req_init(&fr);
    fr.snapshot_id = snap.snapshot_id;
    tidl_set_str(&fr.rowset_id, snap.tablet.rowsets[1].rowset_id);
    struct idl_fetch_file_reply frep;
    ck_assert_int_eq(idl_backend_service_fetch_file(cl, &fr, &frep, &e), FLOE_ENOTFOUND);
    idl_fetch_file_req_release(&fr);
    idl_snapshot_reply_release(&snap);
    idl_snapshot_req_release(&sr);
    idl_scan_open_reply_release(&r);
    idl_scan_open_req_release(&req);
    rpc_client_free(cl);
    rpc_server_free(srv);
    be_service_free(svc);
    schema_unref(s);
    node_stop(&n);
}
END_TEST

struct fake_fe {
    int registers, heartbeats, reports;
    size_t last_tablets;
    int64_t last_id;
};

static int fe_register(void *ctx, const struct idl_register_backend_req *req, struct idl_register_backend_reply *rep,
                       struct err *e)
{
    struct fake_fe *f = ctx;
    (void)e;
    f->registers++;
    ck_assert_int_gt(req->port, 0);
    ck_assert_uint_eq(strlen(req->node_uuid), 36);
    rep->backend_id = req->backend_id ? req->backend_id : 11;
    return 0;
}

static int fe_heartbeat(void *ctx, const struct idl_heartbeat_req *req, struct idl_heartbeat_reply *rep, struct err *e)
{
    struct fake_fe *f = ctx;
    (void)e;
    (void)rep;
    f->heartbeats++;
    f->last_id = req->backend_id;
    return 0;
}

static int fe_report(void *ctx, const struct idl_tablet_report_req *req, struct idl_tablet_report_reply *rep,
                     struct err *e)
{
    struct fake_fe *f = ctx;
    (void)e;
    f->reports++;
    f->last_tablets = req->tablets_len;
    rep->accepted = (int32_t)req->tablets_len;
    return 0;
}

START_TEST(register_heartbeat_report)
{
    struct node n;
    node_start(&n);
    struct schema *s = bt_schema(KEY_DUPLICATE);
    create(&n, 8, s);
    create(&n, 9, s);
    struct fake_fe f = { 0 };
    struct idl_frontend_service_handlers h = { .ctx = &f, .register_backend = fe_register,
                                               .heartbeat = fe_heartbeat, .tablet_report = fe_report };
    struct rpc_server *fs;
    struct err e = { 0 };
    struct rpc_server_opts ro = { .name = "fe", .host = "127.0.0.1", .token = &token, .workers = 1 };
    ck_assert_int_eq(rpc_server_new(&ro, &fs, &e), 0);
    ck_assert_int_eq(idl_frontend_service_register(fs, &h, &e), 0);
    ck_assert_int_eq(rpc_server_start(fs, &e), 0);
    char addr[64];
    /* a dead address first: the client moves on to the next */
    snprintf(addr, sizeof(addr), "127.0.0.1:1,127.0.0.1:%d", rpc_server_port(fs));
    struct fe_client_opts fo = { .fe_address = addr, .token = &token, .storage_root = n.dir, .host = "127.0.0.1",
                                 .rpc_port = rpc_server_port(n.srv), .report_interval_s = 3600, .svc = n.svc,
                                 .backend_id = &n.backend_id };
    struct fe_client *fc;
    ck_assert_int_eq(fe_client_start(&fo, &fc, &e), 0);
    int64_t deadline = mono_now_ms() + 20000;
    while (__atomic_load_n(&n.backend_id, __ATOMIC_RELAXED) == 0 && mono_now_ms() < deadline)
        usleep(10000);
    ck_assert_int_eq(__atomic_load_n(&n.backend_id, __ATOMIC_RELAXED), 11);
    ck_assert_int_eq(fe_client_round(fc, &e), 0);
    fe_client_stop(fc);
    ck_assert_int_eq(f.registers, 1);
    ck_assert_int_ge(f.heartbeats, 1);
    ck_assert_int_ge(f.reports, 1);
    ck_assert_uint_eq(f.last_tablets, 2);
    ck_assert_int_eq(f.last_id, 11);
    /* the id survives a restart */
    int64_t id;
    char u[UUID_STR_LEN];
    ck_assert_int_eq(fe_client_load_identity(n.dir, &id, u, &e), 0);
    ck_assert_int_eq(id, 11);
    rpc_server_free(fs);
    schema_unref(s);
    node_stop(&n);
}
END_TEST

/* Master epoch fencing: the highest epoch is persisted, a lower one is refused, 0 (an old FE) passes,
 * a restart keeps the epoch, and a damaged fe_epoch.json stops the service from starting. */
START_TEST(fence_epochs)
{
    struct err e = { 0 };
    char *dir = test_tmpdir();
    struct engine *eng = bt_engine(dir);
    struct be_service_opts so = { .eng = eng, .token = &token, .storage_root = dir };
    struct be_service *svc;
    ck_assert_msg(be_service_new(&so, &svc, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(be_service_fe_epoch(svc), 0);
    ck_assert_int_eq(be_service_fence(svc, 2, "ping", 0, "127.0.0.1:9020", &e), 0);
    ck_assert_int_eq(be_service_fe_epoch(svc), 2);
    ck_assert_int_eq(be_service_fence(svc, 1, "cooldown_delete", 7, NULL, &e), FLOE_ENOTMASTER);
    ck_assert_msg(strstr(err_msg(&e), "below 2") != NULL, "%s", err_msg(&e));
    ck_assert_int_eq(be_service_fe_epoch(svc), 2);
    ck_assert_int_eq(be_service_fence(svc, 0, "push_cooldown_conf", 0, NULL, &e), 0);
    ck_assert_int_eq(be_service_fence(svc, 2, "push_cooldown_conf", 0, NULL, &e), 0);
    char addr[64];
    be_service_fe_master(svc, addr, sizeof(addr));
    ck_assert_str_eq(addr, "127.0.0.1:9020");
    be_service_free(svc);

    /* a restart keeps the epoch */
    ck_assert_msg(be_service_new(&so, &svc, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(be_service_fe_epoch(svc), 2);
    ck_assert_int_eq(be_service_fence(svc, 1, "clone", 7, NULL, &e), FLOE_ENOTMASTER);
    be_service_free(svc);

    /* a damaged file: refused at start, named in the error, left as it is */
    struct buf pb = BUF_INIT;
    ck_assert_int_eq(fs_path_join(&pb, dir, "fe_epoch.json", &e), 0);
    const char *path = buf_cstr(&pb);
    ck_assert_int_eq(fs_write_atomic(path, "{\"epoch\": \"x\"", 13, &e), 0);
    ck_assert_int_eq(be_service_new(&so, &svc, &e), FLOE_ECORRUPT);
    ck_assert_msg(strstr(err_msg(&e), "fe_epoch.json") != NULL, "%s", err_msg(&e));
    struct buf b = BUF_INIT;
    ck_assert_int_eq(fs_read_file(path, &b, 1 << 16, &e), 0);
    ck_assert_uint_eq(b.len, 13);
    buf_release(&b);
    buf_release(&pb);
    engine_close(eng);
    fs_remove_all(dir, NULL);
    free(dir);
}
END_TEST

int main(void)
{
    log_set_level(LOG_ERROR);
    struct err e = { 0 };
    if (auth_token_set(&token, "unit-test-cluster-token-0123456789", 34, &e) < 0) {
        fprintf(stderr, "%s\n", err_msg(&e));
        return 1;
    }
    Suite *s = suite_create("be_service");
    TCase *tc = tcase_create("service");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, load_and_scan_over_rpc);
    tcase_add_test(tc, bad_batches_write_nothing);
    tcase_add_test(tc, clone_between_backends);
    tcase_add_test(tc, idle_cursors_expire);
    tcase_add_test(tc, register_heartbeat_report);
    tcase_add_test(tc, fence_epochs);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
