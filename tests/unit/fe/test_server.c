/* Unit tests for the floe-fe server in-process: FrontendService over real
 * RPC (registration, heartbeats, reports, catalog operations, bad input),
 * and a restart that keeps everything. No backend runs: replicas placed on
 * the registered addresses cannot be created and are marked bad. */
#include "auth.h"
#include "buf.h"
#include "err.h"
#include "frontend_idl.h"
#include "load.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static char *meta_dir, *token_path;
static struct fe_server *srv;
static struct auth_token tok;
static struct rpc_client *cl;

static void start(void)
{
    struct fe_conf c = { .rpc_port = 0, .http_port = 0, .listen_host = "127.0.0.1", .meta_dir = meta_dir,
                         .cluster_token_file = token_path, .heartbeat_interval_s = 60, .backend_dead_after_s = 30,
                         .cooldown_replica_timeout_s = 1800, .cooldown_conf_check_interval_s = 1,
                         .repair_interval_s = 3600, .checkpoint_records = 0, .rpc_workers = 4,
                         .log_level = "error", .log_file = "", .load_idle_timeout_s = 2 };
    struct err e = { 0 };
    ck_assert_msg(fe_server_start(&c, &srv, &e) == 0, "start: %s", err_msg(&e));
    struct rpc_client_opts o = { .host = "127.0.0.1", .port = fe_server_rpc_port(srv), .token = &tok };
    ck_assert_int_eq(rpc_client_new(&o, &cl, &e), 0);
}

static void stop(void)
{
    rpc_client_free(cl);
    cl = NULL;
    fe_server_stop(srv);
    srv = NULL;
}

static void setup(void)
{
    log_set_level(LOG_OFF);
    dir = test_tmpdir();
    meta_dir = xasprintf("%s/meta", dir);
    token_path = xasprintf("%s/token", dir);
    const char *t = "0123456789abcdef0123456789abcdef\n";
    int fd = open(token_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    struct err e = { 0 };
    ck_assert_int_eq(auth_token_load(token_path, &tok, &e), 0);
    start();
}

static void teardown(void)
{
    stop();
    auth_token_release(&tok);
    struct err e = { 0 };
    fs_remove_all(dir, &e);
    free(meta_dir);
    free(token_path);
    free(dir);
}

static int64_t reg(const char *host, int port, int64_t known)
{
    struct idl_register_backend_req rq;
    struct idl_register_backend_reply rp;
    struct err e = { 0 };
    idl_register_backend_req_init(&rq);
    tidl_set_str(&rq.host, host);
    rq.port = port;
    rq.backend_id = known;
    int r = idl_frontend_service_register_backend(cl, &rq, &rp, &e);
    idl_register_backend_req_release(&rq);
    if (r < 0)
        return r;
    int64_t id = rp.backend_id;
    idl_register_backend_reply_release(&rp);
    return id;
}

static int create_table(const char *name, int replicas, const char *policy, struct err *e)
{
    struct idl_create_table_req rq;
    struct idl_create_table_reply rp;
    idl_create_table_req_init(&rq);
    tidl_set_str(&rq.name, name);
    const char *cols[] = { "k", "v" };
    for (int i = 0; i < 2; i++) {
        struct idl_column_def *d = idl_tablet_schema_add_columns(&rq.schema);
        tidl_set_str(&d->name, cols[i]);
        d->type = i == 0 ? IDL_COLUMN_TYPE_INT64 : IDL_COLUMN_TYPE_DOUBLE;
        d->nullable = i == 1;
        d->is_key = i == 0;
    }
    rq.buckets = 2;
    rq.replication = replicas;
    tidl_set_str(&rq.storage_policy, policy ? policy : "");
    int r = idl_frontend_service_create_table(cl, &rq, &rp, e);
    idl_create_table_req_release(&rq);
    if (r == 0)
        idl_create_table_reply_release(&rp);
    return r;
}

static void make_policy(void)
{
    struct err e = { 0 };
    struct idl_create_resource_req rq;
    struct idl_create_resource_reply rp;
    idl_create_resource_req_init(&rq);
    tidl_set_str(&rq.resource.name, "loc");
    rq.resource.type = IDL_RESOURCE_TYPE_LOCAL;
    char *root = xasprintf("%s/shared", dir);
    tidl_set_str(&rq.resource.root_path, root);
    free(root);
    ck_assert_int_eq(idl_frontend_service_create_resource(cl, &rq, &rp, &e), 0);
    idl_create_resource_req_release(&rq);
    idl_create_resource_reply_release(&rp);
    struct idl_create_policy_req pq;
    struct idl_create_policy_reply pp;
    idl_create_policy_req_init(&pq);
    tidl_set_str(&pq.policy.name, "cool");
    tidl_set_str(&pq.policy.resource, "loc");
    pq.policy.cooldown_ttl_s = 60;
    ck_assert_msg(idl_frontend_service_create_policy(cl, &pq, &pp, &e) == 0, "%s", err_msg(&e));
    idl_create_policy_req_release(&pq);
    idl_create_policy_reply_release(&pp);
}

START_TEST(catalog_over_rpc_survives_restart)
{
    struct err e = { 0 };
    ck_assert_int_eq(create_table("t", 3, NULL, &e), FLOE_EUNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "only 0 available") != NULL, "%s", e.msg);
    int64_t a = reg("127.0.0.1", 1, 0), b = reg("127.0.0.1", 2, 0), c = reg("127.0.0.1", 3, 0);
    ck_assert(a > 0 && b > 0 && c > 0 && a != b && b != c);
    ck_assert_int_eq(reg("127.0.0.1", 1, 0), a);        /* same address, same id */
    ck_assert_int_eq(reg("127.0.0.1", 9, 424242), FLOE_ENOTFOUND);
    make_policy();
    ck_assert_msg(create_table("t", 3, "cool", &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(create_table("t", 3, NULL, &e), FLOE_EEXIST);
    ck_assert_int_eq(create_table("bad name", 3, NULL, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(create_table("u", 3, "nope", &e), FLOE_ENOTFOUND);

    struct idl_list_tablets_req lq;
    struct idl_list_tablets_reply lp;
    idl_list_tablets_req_init(&lq);
    tidl_set_str(&lq.table, "t");
    ck_assert_int_eq(idl_frontend_service_list_tablets(cl, &lq, &lp, &e), 0);
    ck_assert_uint_eq(lp.tablets_len, 2);
    ck_assert_uint_eq(lp.tablets[0].replicas_len, 3);
    ck_assert_int_eq(lp.tablets[0].cooldown_term, 1);
    int64_t cr = lp.tablets[0].cooldown_replica_id;
    /* nothing listens on ports 1-3: creating the replicas failed, they are bad */
    ck_assert_str_eq(lp.tablets[0].replicas[0].fe_state, "bad");
    idl_list_tablets_reply_release(&lp);

    stop();
    start();
    ck_assert_int_eq(idl_frontend_service_list_tablets(cl, &lq, &lp, &e), 0);
    ck_assert_uint_eq(lp.tablets_len, 2);
    ck_assert_int_eq(lp.tablets[0].cooldown_term, 1);
    ck_assert_int_eq(lp.tablets[0].cooldown_replica_id, cr);
    idl_list_tablets_reply_release(&lp);
    idl_list_tablets_req_release(&lq);
    ck_assert_int_eq(reg("127.0.0.1", 2, b), b);   /* a backend keeps its id across FE restarts */
}
END_TEST

START_TEST(reports_and_heartbeats)
{
    struct err e = { 0 };
    int64_t a = reg("127.0.0.1", 1, 0);
    reg("127.0.0.1", 2, 0);
    reg("127.0.0.1", 3, 0);
    make_policy();
    ck_assert_int_eq(create_table("t", 3, "cool", &e), 0);
    struct idl_heartbeat_req hq;
    struct idl_heartbeat_reply hp;
    idl_heartbeat_req_init(&hq);
    hq.backend_id = 999;
    ck_assert_int_eq(idl_frontend_service_heartbeat(cl, &hq, &hp, &e), FLOE_ENOTFOUND);
    hq.backend_id = a;
    ck_assert_int_eq(idl_frontend_service_heartbeat(cl, &hq, &hp, &e), 0);
    ck_assert(!hp.decommissioned);
    idl_heartbeat_reply_release(&hp);
    idl_heartbeat_req_release(&hq);

    struct idl_list_tablets_req lq;
    struct idl_list_tablets_reply lp;
    idl_list_tablets_req_init(&lq);
    tidl_set_str(&lq.table, "t");
    ck_assert_int_eq(idl_frontend_service_list_tablets(cl, &lq, &lp, &e), 0);
    idl_list_tablets_req_release(&lq);
    /* backend a reports: its replica of tablet 0 with no conf, plus a tablet the FE never made */
    struct idl_tablet_report_req rq;
    struct idl_tablet_report_reply rp;
    idl_tablet_report_req_init(&rq);
    rq.backend_id = a;
    rq.full = false;
    for (size_t k = 0; k < lp.tablets[0].replicas_len; k++)
        if (lp.tablets[0].replicas[k].backend_id == a) {
            struct idl_tablet_info *ti = idl_tablet_report_req_add_tablets(&rq);
            ti->tablet_id = lp.tablets[0].tablet_id;
            ti->replica_id = lp.tablets[0].replicas[k].replica_id;
            ti->version = 1;
        }
    ck_assert_uint_eq(rq.tablets_len, 1);
    struct idl_tablet_info *ghost = idl_tablet_report_req_add_tablets(&rq);
    ghost->tablet_id = 777777;
    ghost->replica_id = 777778;
    ck_assert_int_eq(idl_frontend_service_tablet_report(cl, &rq, &rp, &e), 0);
    ck_assert_int_eq(rp.accepted, 2);
    ck_assert_uint_eq(rp.unknown_tablets_len, 1);
    ck_assert_int_eq(rp.unknown_tablets[0], 777777);
    ck_assert_uint_eq(rp.cooldown_confs_len, 1);       /* stale conf: re-pushed in the reply */
    ck_assert_int_eq(rp.cooldown_confs[0].cooldown_term, 1);
    ck_assert_int_eq(rp.cooldown_confs[0].cooldown_replica_id, lp.tablets[0].cooldown_replica_id);
    idl_tablet_report_reply_release(&rp);
    rq.backend_id = 31337;
    ck_assert_int_eq(idl_frontend_service_tablet_report(cl, &rq, &rp, &e), FLOE_ENOTFOUND);
    idl_tablet_report_req_release(&rq);
    idl_list_tablets_reply_release(&lp);
}
END_TEST

/* The master epoch of this FE as a heartbeat of backend a sees it. */
static int64_t hb_epoch(int64_t a)
{
    struct idl_heartbeat_req hq;
    struct idl_heartbeat_reply hp;
    struct err e = { 0 };
    idl_heartbeat_req_init(&hq);
    hq.backend_id = a;
    ck_assert_msg(idl_frontend_service_heartbeat(cl, &hq, &hp, &e) == 0, "%s", err_msg(&e));
    int64_t v = hp.master_epoch;
    idl_heartbeat_reply_release(&hp);
    idl_heartbeat_req_release(&hq);
    return v;
}

START_TEST(master_epoch_grows_with_every_start)
{
    int64_t a = reg("127.0.0.1", 1, 0);
    ck_assert_int_eq(hb_epoch(a), 1);
    stop();
    start();
    ck_assert_int_eq(hb_epoch(a), 2);
    /* a report reply carries it too, so a BE can ignore a deposed master's confs */
    struct idl_tablet_report_req rq;
    struct idl_tablet_report_reply rp;
    struct err e = { 0 };
    idl_tablet_report_req_init(&rq);
    rq.backend_id = a;
    ck_assert_int_eq(idl_frontend_service_tablet_report(cl, &rq, &rp, &e), 0);
    ck_assert_int_eq(rp.master_epoch, 2);
    idl_tablet_report_reply_release(&rp);
    idl_tablet_report_req_release(&rq);
    /* a journal that cannot take the epoch record: the FE does not start */
    stop();
    char *jp = xasprintf("%s/journal.log", meta_dir);
    ck_assert_int_eq(chmod(jp, 0400), 0);
    struct fe_conf c = { .rpc_port = 0, .http_port = 0, .listen_host = "127.0.0.1", .meta_dir = meta_dir,
                         .cluster_token_file = token_path, .heartbeat_interval_s = 60, .backend_dead_after_s = 30,
                         .cooldown_replica_timeout_s = 1800, .cooldown_conf_check_interval_s = 1,
                         .repair_interval_s = 3600, .checkpoint_records = 0, .rpc_workers = 4,
                         .log_level = "error", .log_file = "" };
    if (geteuid() != 0) {
        ck_assert_int_ne(fe_server_start(&c, &srv, &e), 0);
        ck_assert_ptr_null(srv);
    }
    ck_assert_int_eq(chmod(jp, 0644), 0);
    free(jp);
    start();
    ck_assert_int_ge(hb_epoch(a), 3);
}
END_TEST

START_TEST(loads_and_scans_reject_bad_input)
{
    struct err e = { 0 };
    reg("127.0.0.1", 1, 0);
    ck_assert_int_eq(create_table("t", 1, NULL, &e), 0);
    struct idl_load_req rq;
    struct idl_load_reply rp;
    idl_load_req_init(&rq);
    tidl_set_str(&rq.table, "missing");
    ck_assert_int_eq(idl_frontend_service_load(cl, &rq, &rp, &e), FLOE_ENOTFOUND);
    tidl_set_str(&rq.table, "t");
    const char *csv = "1,2.5\n2,oops\n";
    rq.data.data = (uint8_t *)xstrdup(csv);
    rq.data.len = strlen(csv);
    ck_assert_int_eq(idl_frontend_service_load(cl, &rq, &rp, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, "line 2") != NULL, "%s", e.msg);
    tidl_set_str(&rq.column_separator, ";;");
    ck_assert_int_eq(idl_frontend_service_load(cl, &rq, &rp, &e), FLOE_EBADINPUT);
    idl_load_req_release(&rq);

    struct idl_table_scan_req sq;
    struct idl_table_scan_reply sp;
    idl_table_scan_req_init(&sq);
    tidl_set_str(&sq.table, "t");
    sq.columns = xcalloc(1, sizeof(char *));
    sq.columns[0] = xstrdup("nope");
    sq.columns_len = 1;
    ck_assert_int_eq(idl_frontend_service_scan(cl, &sq, &sp, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, "no column 'nope'") != NULL, "%s", e.msg);
    sq.cursor_id = 12345;
    ck_assert_int_eq(idl_frontend_service_scan(cl, &sq, &sp, &e), FLOE_ENOTFOUND);
    idl_table_scan_req_release(&sq);
    /* the table's only replica never got created: the scan says which tablet cannot be served */
    idl_table_scan_req_init(&sq);
    tidl_set_str(&sq.table, "t");
    ck_assert_int_eq(idl_frontend_service_scan(cl, &sq, &sp, &e), FLOE_EUNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "tablet") != NULL, "%s", e.msg);
    idl_table_scan_req_release(&sq);
}
END_TEST

/* One load RPC: a chunk of CSV for table (txn 0 = a new load). Returns the
 * code; *txn gets the reply's txn id. */
static int load_chunk(const char *table, const char *csv, int64_t txn, bool more, const char *label, int64_t *ret_txn,
                      struct err *e)
{
    struct idl_load_req rq;
    struct idl_load_reply rp;
    idl_load_req_init(&rq);
    tidl_set_str(&rq.table, table);
    rq.data.data = (uint8_t *)xstrdup(csv);
    rq.data.len = strlen(csv);
    rq.txn_id = txn;
    rq.more = more;
    if (label)
        tidl_set_str(&rq.label, label);
    int r = idl_frontend_service_load(cl, &rq, &rp, e);
    idl_load_req_release(&rq);
    if (r == 0) {
        if (ret_txn)
            *ret_txn = rp.txn_id;
        idl_load_reply_release(&rp);
    }
    return r;
}

START_TEST(chunked_load_continuations)
{
    struct err e = { 0 };
    reg("127.0.0.1", 1, 0);
    ck_assert_int_eq(create_table("t", 1, NULL, &e), 0);
    ck_assert_int_eq(create_table("u", 1, NULL, &e), 0);
    /* a continuation of a txn that was never opened */
    ck_assert_int_eq(load_chunk("t", "1,2.5\n", 424242, true, NULL, NULL, &e), FLOE_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "load txn 424242 is not an open load") != NULL, "%s", e.msg);
    ck_assert_int_eq(load_chunk("t", "1,2.5\n", 424242, false, NULL, NULL, &e), FLOE_ENOTFOUND);
    ck_assert_uint_eq(fe_loads_open(srv), 0);

    /* an open load (a first chunk without rows): its label is running */
    int64_t txn = 0;
    ck_assert_msg(load_chunk("t", "", 0, true, "L1", &txn, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_gt(txn, 0);
    ck_assert_uint_eq(fe_loads_open(srv), 1);
    ck_assert_int_eq(load_chunk("t", "", 0, false, "L1", NULL, &e), FLOE_EBUSY);
    ck_assert_msg(strstr(e.msg, "label 'L1' is running") != NULL, "%s", e.msg);
    /* a continuation into another table is refused and aborts the load */
    ck_assert_int_eq(load_chunk("u", "", txn, true, NULL, NULL, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, "is a load into 't', not 'u'") != NULL, "%s", e.msg);
    ck_assert_uint_eq(fe_loads_open(srv), 0);
    ck_assert_int_eq(load_chunk("t", "", txn, false, NULL, NULL, &e), FLOE_ETXN);
    ck_assert_msg(strstr(e.msg, "already finished (aborted") != NULL, "%s", e.msg);
    /* the label is free again */
    int64_t txn2 = 0;
    ck_assert_msg(load_chunk("t", "", 0, true, "L1", &txn2, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_gt(txn2, txn);
    /* a bad CSV chunk aborts the whole load */
    ck_assert_int_eq(load_chunk("t", "1,oops\n", txn2, true, NULL, NULL, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(load_chunk("t", "", txn2, false, NULL, NULL, &e), FLOE_ETXN);
    ck_assert_uint_eq(fe_loads_open(srv), 0);

    /* rows in a chunk for a tablet without a replica left: aborted at once */
    ck_assert_int_eq(load_chunk("t", "1,2.5\n2,3.5\n", 0, true, NULL, &txn, &e), FLOE_EUNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "replicas left, a majority is needed") != NULL, "%s", e.msg);
    ck_assert_uint_eq(fe_loads_open(srv), 0);

    /* an open load with no next chunk is aborted after load_idle_timeout_s (2 s here) */
    int64_t txn3 = 0;
    ck_assert_int_eq(load_chunk("t", "", 0, true, "L2", &txn3, &e), 0);
    ck_assert_uint_eq(fe_loads_open(srv), 1);
    time_t deadline = time(NULL) + 30;
    while (fe_loads_open(srv) > 0 && time(NULL) < deadline)
        usleep(100 * 1000);
    ck_assert_uint_eq(fe_loads_open(srv), 0);
    ck_assert_int_eq(load_chunk("t", "", txn3, false, NULL, NULL, &e), FLOE_ETXN);
    ck_assert_msg(strstr(e.msg, "aborted: no chunk for more than 2s") != NULL, "%s", e.msg);

    /* a load left open at shutdown is aborted and freed (ASan: no leak) */
    ck_assert_int_eq(load_chunk("t", "", 0, true, "L3", &txn3, &e), 0);
    ck_assert_uint_eq(fe_loads_open(srv), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_server");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, catalog_over_rpc_survives_restart);
    tcase_add_test(tc, reports_and_heartbeats);
    tcase_add_test(tc, master_epoch_grows_with_every_start);
    tcase_add_test(tc, loads_and_scans_reject_bad_input);
    tcase_add_test(tc, chunked_load_continuations);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
