/* Unit tests for fe/journal and fe/meta: durable changes, replay, torn
 * tails, corruption, checkpoints and terms across restarts. */
#include "coolconf.h"
#include "fault.h"
#include "fe_fixture.h"
#include "journal.h"
#include "ops.h"

#include <fcntl.h>
#include <unistd.h>

static char *dir;

static void setup(void)
{
    dir = fx_tmpdir();
}

static void teardown(void)
{
    fx_teardown(NULL, dir);
}

static char *jpath(void)
{
    return xasprintf("%s/journal.log", dir);
}

static void append_raw(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

/* The whole file as a string ("" when it does not exist). */
static char *read_text(const char *path)
{
    struct buf b = BUF_INIT;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char tmp[4096];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof(tmp))) > 0)
            buf_append(&b, tmp, (size_t)n);
        close(fd);
    }
    char *s = xstrdup(buf_cstr(&b));
    buf_release(&b);
    return s;
}

/* Number of lines (newline-terminated) in a file. */
static long count_lines(const char *path)
{
    char *s = read_text(path);
    long n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* Occurrences of needle in hay. */
static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

START_TEST(replay_restores_catalog)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_policy(m);
    struct fe_table *t = fx_table(m, "events", 4, 3, "cool");
    int64_t tid = t->id, tab0 = t->tablet_ids[0];
    int64_t cr = fx_tablet(m, t, 0)->cooldown_replica_id;
    ck_assert_int_gt(cr, 0);
    int64_t seq = m->cat.last_seq, next = m->cat.next_id;
    meta_close(m);

    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_int_eq(m->cat.next_id, next);
    ck_assert_uint_eq(m->cat.backends.count, 3);
    t = catalog_table_by_name(&m->cat, "events");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->id, tid);
    ck_assert_int_eq(t->tablet_ids[0], tab0);
    ck_assert_int_eq(t->schema.ncols, 4);
    ck_assert(t->schema.cols[3].nullable);
    ck_assert_int_eq(fx_tablet(m, t, 0)->cooldown_replica_id, cr);
    ck_assert_int_eq(fx_tablet(m, t, 0)->cooldown_term, 1);
    ck_assert_int_eq(m->cat.nreplicas, 12);
    ck_assert_ptr_nonnull(catalog_policy_by_name(&m->cat, "cool"));
    meta_close(m);
}
END_TEST

START_TEST(torn_tail_is_dropped)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 2);
    int64_t seq = m->cat.last_seq;
    meta_close(m);
    char *jp = jpath();
    off_t good = file_size(jp);
    long lines = count_lines(jp);
    /* every drop logs one WARN line naming the file and line: capture the log */
    char *logp = xasprintf("%s.log", dir);
    unlink(logp);
    ck_assert_int_eq(log_set_file(logp), 0);
    log_set_level(LOG_WARN);
    /* a record cut short by a crash: no end, no newline */
    const char *torn = "{\"c\":\"12345678\",\"r\":{\"op\":\"backend_add\",\"id\":9";
    append_raw(jp, torn);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_uint_eq(m->cat.backends.count, 2);
    ck_assert_int_eq(file_size(jp), good);  /* cut off */
    char *want = xasprintf("journal %s line %ld: torn last record dropped (line has no end); %zu bytes cut\n", jp,
                           lines + 1, strlen(torn));
    char *log = read_text(logp);
    ck_assert_msg(strstr(log, want) != NULL, "want %s in the log:\n%s", want, log);
    ck_assert_msg(strstr(log, " WARN ") != NULL && strstr(log, " WARN ") < strstr(log, want), "%s", log);
    ck_assert_int_eq(count_str(log, "torn last record dropped"), 1);
    free(want);
    free(log);
    /* appends continue cleanly after the cut */
    fx_backends(m, 3);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_uint_eq(m->cat.backends.count, 3);
    meta_close(m);
    /* a whole line with a bad checksum at the very end is torn too; so are trailing NULs */
    append_raw(jp, "{\"c\":\"00000000\",\"r\":{\"seq\":99,\"op\":\"x\"}}\n");
    m = fx_open(dir);
    ck_assert_uint_eq(m->cat.backends.count, 3);
    meta_close(m);
    log = read_text(logp);
    ck_assert_int_eq(count_str(log, "torn last record dropped"), 2);
    ck_assert_msg(strstr(log, "torn last record dropped (checksum mismatch (stored 00000000") != NULL, "%s", log);
    free(log);
    append_raw(jp, "{\"c\":\"0000");
    int fd = open(jp, O_WRONLY | O_APPEND);
    char zeros[64] = { 0 };
    ck_assert_int_eq(write(fd, zeros, sizeof(zeros)), 64);
    close(fd);
    m = fx_open(dir);
    ck_assert_uint_eq(m->cat.backends.count, 3);
    meta_close(m);
    log_set_level(LOG_ERROR);
    log_set_file(NULL);
    log = read_text(logp);
    ck_assert_int_eq(count_str(log, "torn last record dropped"), 3);
    /* a clean journal logs no drop */
    ck_assert_int_eq(count_str(log, "WARN"), 3);
    free(log);
    unlink(logp);
    free(logp);
    free(jp);
}
END_TEST

START_TEST(mid_file_corruption_stops_start)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    meta_close(m);
    char *jp = jpath();
    /* flip one byte inside line 2 */
    int fd = open(jp, O_RDWR);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    char *l2 = memchr(buf, '\n', (size_t)n) + 1;
    char *host = strstr(l2, "127.0.0.1");
    ck_assert_ptr_nonnull(host);
    ck_assert_int_eq(pwrite(fd, "8", 1, host - buf), 1);
    close(fd);
    struct fe_meta *m2 = NULL;
    struct err e = { 0 };
    struct fe_params p = { 30000, 600000 };
    int r = meta_open(dir, &p, &m2, &e);
    ck_assert_int_eq(r, FLOE_ECORRUPT);
    ck_assert_ptr_null(m2);
    ck_assert_msg(strstr(e.msg, "journal.log line 2") != NULL, "message: %s", e.msg);
    ck_assert_msg(strstr(e.msg, "checksum") != NULL, "message: %s", e.msg);
    free(jp);
}
END_TEST

static int replay_apply(void *ctx, const json_t *rec, struct err *e)
{
    return catalog_apply(ctx, rec, e);
}

START_TEST(seq_gap_stops_start)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 1);
    meta_close(m);
    /* write a valid journal line whose seq skips one, followed by another */
    struct journal *j;
    struct err e = { 0 };
    char *jp = jpath();
    /* hand-made lines via journal_append on a scratch journal, then spliced */
    char *scratch = xasprintf("%s/scratch.log", dir);
    struct catalog c;
    catalog_init(&c, NULL);
    ck_assert_int_eq(journal_open(scratch, &j, &e), 0);
    ck_assert_int_eq(journal_replay(j, 5, replay_apply, &c, &e), 0);
    json_t *rec = json_pack("{s:s,s:I}", "op", "txn_begin", "txn", (json_int_t)50);
    ck_assert_int_eq(journal_append(j, rec, &e), 0);  /* seq 6 */
    ck_assert_int_eq(journal_append(j, rec, &e), 0);  /* seq 7 */
    json_decref(rec);
    journal_close(j);
    catalog_release(&c);
    struct buf b = BUF_INIT;
    ck_assert_int_eq(fs_read_file(scratch, &b, 1 << 20, &e), 0);
    append_raw(jp, buf_cstr(&b));
    buf_release(&b);
    struct fe_meta *m2 = NULL;
    struct fe_params p = { 30000, 600000 };
    ck_assert_int_eq(meta_open(dir, &p, &m2, &e), FLOE_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "line 2: seq 6 follows 1") != NULL, "message: %s", e.msg);
    free(scratch);
    free(jp);
}
END_TEST

START_TEST(checkpoint_then_replay)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_policy(m);
    fx_table(m, "a", 8, 3, "cool");
    struct err e = { 0 };
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    fx_table(m, "b", 2, 2, NULL);
    ck_assert_int_eq(ops_table_drop(m, "a", &e), 0);
    int64_t seq = m->cat.last_seq, max_term = m->cat.max_term;
    meta_close(m);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_int_eq(m->cat.max_term, max_term);
    ck_assert_ptr_null(catalog_table_by_name(&m->cat, "a"));
    ck_assert_ptr_nonnull(catalog_table_by_name(&m->cat, "b"));
    ck_assert_uint_eq(m->cat.tablets.count, 2);
    ck_assert_int_eq(m->cat.nreplicas, 4);
    /* checkpoint again with everything in the image, journal empty */
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    meta_close(m);
    char *jp = jpath();
    ck_assert_int_eq(file_size(jp), 0);
    free(jp);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_uint_eq(m->cat.tablets.count, 2);
    meta_close(m);
}
END_TEST

START_TEST(truncated_image_stops_start)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_table(m, "a", 4, 3, NULL);
    struct err e = { 0 };
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    meta_close(m);
    char *ip = xasprintf("%s/image.json", dir);
    off_t sz = file_size(ip);
    ck_assert_int_eq(truncate(ip, sz - 5), 0);
    struct fe_params p = { 30000, 600000 };
    ck_assert_int_eq(meta_open(dir, &p, &m, &e), FLOE_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "image.json") != NULL, "message: %s", e.msg);
    free(ip);
}
END_TEST

START_TEST(terms_never_go_back)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_policy(m);
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    int64_t tabid = tb->id;
    ck_assert_int_eq(tb->cooldown_term, 1);
    /* kill the uploader's backend past the timeout: re-elect, term 2 */
    int64_t later = FX_NOW + 700000;
    fx_heartbeat_all(m, later);
    catalog_backend(&m->cat, catalog_replica(tb, tb->cooldown_replica_id)->backend_id)->last_hb_ms = FX_NOW;
    struct err e = { 0 };
    ck_assert_int_eq(coolconf_pass(m, 0, later, NULL, &e), 1);
    ck_assert_int_eq(tb->cooldown_term, 2);
    struct err ce = { 0 };
    ck_assert_int_eq(meta_checkpoint(m, &ce), 0);
    fx_heartbeat_all(m, later);
    /* another re-election after the checkpoint */
    int64_t later2 = later + 700000;
    fx_heartbeat_all(m, later2);
    catalog_backend(&m->cat, catalog_replica(tb, tb->cooldown_replica_id)->backend_id)->last_hb_ms = later;
    ck_assert_int_eq(coolconf_pass(m, 0, later2, NULL, &e), 1);
    ck_assert_int_eq(tb->cooldown_term, 3);
    meta_close(m);
    m = fx_open(dir);
    tb = catalog_tablet(&m->cat, tabid);
    ck_assert_int_eq(tb->cooldown_term, 3);
    ck_assert_int_eq(m->cat.max_term, 3);
    ck_assert(tb->push_needed);  /* a restarted FE re-pushes what it knows */
    /* a record that would lower the term is refused and changes nothing */
    json_t *rec = json_pack("{s:s,s:I,s:[[I,I,I]]}", "op", "cooldown_conf", "seq", (json_int_t)999, "confs",
                            (json_int_t)tabid, (json_int_t)tb->replicas[0].id, (json_int_t)2);
    ck_assert_int_eq(catalog_apply(&m->cat, rec, &e), FLOE_ECORRUPT);
    ck_assert_int_eq(tb->cooldown_term, 3);
    json_decref(rec);
    meta_close(m);
}
END_TEST

START_TEST(journal_failure_deposes)
{
    if (!fault_compiled_in())
        return;
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    int64_t seq = m->cat.last_seq;
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("journal.fsync=once", &e), 0);
    int64_t id;
    int r = ops_backend_register(m, 0, "10.0.0.1", 9100, 0, FX_NOW, &id, &e);
    ck_assert_int_eq(r, FLOE_EFAULT);
    ck_assert(!m->master);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_uint_eq(m->cat.backends.count, 3);  /* not applied */
    /* later changes are refused: this FE is no longer master */
    ck_assert_int_eq(ops_backend_register(m, 0, "10.0.0.2", 9100, 0, FX_NOW, &id, &e), FLOE_ENOTMASTER);
    meta_close(m);
    fault_clear();
    m = fx_open(dir);
    ck_assert_uint_eq(m->cat.backends.count, 3);
    ck_assert_int_eq(m->cat.last_seq, seq);
    meta_close(m);
}
END_TEST

/* The same sequence of changes, with the Nth journal write (then fsync)
 * failing, until a run passes: after each failure a restarted FE holds
 * exactly the changes that succeeded, and continues from there. */
static int run_ops(struct fe_meta *m, int *done)
{
    struct err e = { 0 };
    int64_t id, txn;
    int r = 0;
    for (int i = 0; i < 3 && r == 0; i++)
        if (*done <= i) {
            r = ops_backend_register(m, 0, "127.0.0.1", 9001 + i, 0, FX_NOW, &id, &e);
            if (r == 0)
                (*done)++;
        }
    if (r == 0 && *done == 3) {
        struct ops_resource_args ra = { .name = "store", .type = "local", .root = "/tmp/x" };
        if ((r = ops_resource_create(m, &ra, &e)) == 0)
            (*done)++;
    }
    if (r == 0 && *done == 4 && (r = ops_policy_create(m, "cool", "store", 60, 0, &e)) == 0)
        (*done)++;
    if (r == 0 && *done == 5) {
        struct ops_table_args ta = { .name = "t", .schema = "k:int64", .keys = "k", .buckets = 4, .replicas = 3,
                                     .policy = "cool" };
        /* two records: the table, then its election */
        r = ops_table_create(m, &ta, FX_NOW, &id, &e);
        if (r == 0)
            (*done)++;
    }
    if (r == 0 && *done == 6 && (r = ops_txn_begin(m, catalog_table_by_name(&m->cat, "t")->id, &txn, &e)) == 0)
        (*done)++;
    return r;
}

static void check_prefix(struct fe_meta *m, int done)
{
    ck_assert_uint_eq(m->cat.backends.count, done < 3 ? (size_t)done : 3);
    ck_assert_uint_eq(m->cat.resources.count, done >= 4 ? 1 : 0);
    ck_assert_uint_eq(m->cat.policies.count, done >= 5 ? 1 : 0);
    struct fe_table *t = catalog_table_by_name(&m->cat, "t");
    ck_assert((t != NULL) == (done >= 6));
    for (int32_t b = 0; t && b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(&m->cat, t->tablet_ids[b]);
        ck_assert_int_le(tb->cooldown_term, 1);  /* elected at most once, never twice */
    }
}

START_TEST(fault_loop_journal)
{
    if (!fault_compiled_in())
        return;
    const char *points[] = { "journal.write", "journal.fsync" };
    for (int pi = 0; pi < 2; pi++) {
        for (int n = 1;; n++) {
            char *d = xasprintf("%s/loop-%d-%d", dir, pi, n);
            struct fe_meta *m = fx_open(d);
            char spec[64];
            snprintf(spec, sizeof(spec), "%s=nth:%d", points[pi], n);
            struct err e = { 0 };
            ck_assert_int_eq(fault_set(spec, &e), 0);
            int done = 0;
            int r = run_ops(m, &done);
            fault_clear();
            meta_close(m);
            m = fx_open(d);
            check_prefix(m, done);
            if (r == 0) {
                ck_assert_int_eq(done, 7);
                meta_close(m);
                free(d);
                ck_assert_int_gt(n, 7);  /* every write was failed once on the way */
                break;
            }
            /* the restarted FE carries on from what it kept */
            ck_assert_int_eq(run_ops(m, &done), 0);
            check_prefix(m, 7);
            meta_close(m);
            free(d);
        }
    }
}
END_TEST

START_TEST(fault_loop_checkpoint)
{
    if (!fault_compiled_in())
        return;
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_table(m, "a", 4, 3, NULL);
    int64_t seq = m->cat.last_seq;
    const char *points[] = { "image.fsync", "image.rename", "journal.write" };
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("image.fsync=once", &e), 0);
    ck_assert_int_ne(meta_checkpoint(m, &e), 0);
    fault_clear();
    ck_assert_int_eq(fault_set("image.rename=once", &e), 0);
    ck_assert_int_ne(meta_checkpoint(m, &e), 0);
    fault_clear();
    (void)points;
    meta_close(m);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_uint_eq(m->cat.tablets.count, 4);
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    fx_table(m, "b", 2, 3, NULL);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_uint_eq(m->cat.tablets.count, 6);
    meta_close(m);
}
END_TEST

START_TEST(second_fe_cannot_open)
{
    struct fe_meta *m = fx_open(dir);
    struct fe_meta *m2 = NULL;
    struct err e = { 0 };
    struct fe_params p = { 30000, 600000 };
    ck_assert_int_eq(meta_open(dir, &p, &m2, &e), FLOE_EBUSY);
    ck_assert_msg(strstr(e.msg, "locked") != NULL, "%s", e.msg);
    meta_close(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_journal");
    TCase *tc = tcase_create("journal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, replay_restores_catalog);
    tcase_add_test(tc, torn_tail_is_dropped);
    tcase_add_test(tc, mid_file_corruption_stops_start);
    tcase_add_test(tc, seq_gap_stops_start);
    tcase_add_test(tc, checkpoint_then_replay);
    tcase_add_test(tc, truncated_image_stops_start);
    tcase_add_test(tc, terms_never_go_back);
    tcase_add_test(tc, journal_failure_deposes);
    tcase_add_test(tc, second_fe_cannot_open);
    tcase_add_test(tc, fault_loop_journal);
    tcase_add_test(tc, fault_loop_checkpoint);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
