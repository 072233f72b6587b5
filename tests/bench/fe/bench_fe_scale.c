/*
 * bench_fe_scale: the FE core at cluster scale, in one process. Builds a
 * catalog of REPLICAS tablet replicas (default 1,000,000: 333,334 tablets x 3
 * over 10 backends, tables with a storage policy) through the real journal,
 * then times:
 *   - a full cooldown-conf pass with nothing to change (the steady state);
 *   - a pass after one backend went silent past cooldown_replica_timeout
 *     (about a tenth of the tablets re-elect; one journal record);
 *   - collecting the pushes of that pass;
 *   - one tablet report of 100,000 replicas from one backend;
 *   - a checkpoint image and a restart (image load);
 * and prints one JSON object with the times, counts and peak RSS.
 *
 *   bench_fe_scale [--replicas N] [--backends N] [--dir DIR]
 */
#include "buf.h"
#include "coolconf.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "meta.h"
#include "ops.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void die(const char *what, struct err *e)
{
    fprintf(stderr, "bench_fe_scale: %s: %s\n", what, err_msg(e));
    exit(1);
}

int main(int argc, char **argv)
{
    long replicas = 1000000, backends = 10;
    const char *dir_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--replicas") == 0 && i + 1 < argc)
            replicas = atol(argv[++i]);
        else if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc)
            backends = atol(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir_arg = argv[++i];
        else {
            fprintf(stderr, "usage: bench_fe_scale [--replicas N] [--backends N] [--dir DIR]\n");
            return 2;
        }
    }
    if (replicas < 3 || backends < 3 || backends > 1000) {
        fprintf(stderr, "bench_fe_scale: need --replicas >= 3 and 3 <= --backends <= 1000\n");
        return 2;
    }
    log_set_role("bench");
    log_set_level(LOG_ERROR);
    char tmpl[] = "/tmp/floe-bench-fe-XXXXXX";
    char *dir = dir_arg ? xstrdup(dir_arg) : xstrdup(mkdtemp(tmpl));
    struct fe_params p = { .backend_dead_after_ms = 30000, .cooldown_replica_timeout_ms = 1800000 };
    struct fe_meta *m = NULL;
    struct err e = { 0 };
    if (meta_open(dir, &p, &m, &e) < 0)
        die("meta_open", &e);
    const int64_t t0 = 1700000000000LL;
    for (long i = 0; i < backends; i++) {
        int64_t id;
        if (ops_backend_register(m, 0, "10.0.0.1", (int32_t)(9000 + i), 8000, t0, &id, &e) < 0)
            die("register", &e);
    }
    struct ops_resource_args ra = { .name = "store", .type = "local", .root = "/srv/floe-shared" };
    if (ops_resource_create(m, &ra, &e) < 0 || ops_policy_create(m, "cool", "store", 3600, 0, &e) < 0)
        die("policy", &e);

    double ts = now_s();
    long tablets = (replicas + 2) / 3, made = 0;
    int tno = 0;
    while (made < tablets) {
        long b = tablets - made > 50000 ? 50000 : tablets - made;
        char name[32];
        snprintf(name, sizeof(name), "t%d", tno++);
        struct ops_table_args ta = { .name = name, .schema = "k:int64,ts:timestamp,v:double,s:string?",
                                     .keys = "k", .buckets = (int32_t)b, .replicas = 3, .policy = "cool" };
        int64_t id;
        if (ops_table_create(m, &ta, t0, &id, &e) < 0)
            die("table create", &e);
        made += b;
    }
    double build_s = now_s() - ts;
    long rss_built = status_kb("VmRSS");

    /* steady pass: every conf is fine */
    struct coolconf_push_vec pv = { 0 };
    coolconf_collect_pushes(&m->cat, &pv);  /* the initial pushes, not timed */
    coolconf_push_vec_release(&pv);
    int64_t now = t0 + 60000;
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key)
            ((struct fe_backend *)m->cat.backends.slots[i].val)->last_hb_ms = now;
    struct coolconf_stats st = { 0 };
    ts = now_s();
    int n = coolconf_pass(m, 0, now, &st, &e);
    double pass_steady_s = now_s() - ts;
    if (n != 0)
        die("steady pass changed something", &e);

    /* one backend silent past the timeout */
    now = t0 + 1800000 + 120000;
    int64_t victim = 0;
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key) {
            struct fe_backend *b = m->cat.backends.slots[i].val;
            if (!victim)
                victim = b->id;
            else
                b->last_hb_ms = now;
        }
    struct coolconf_stats st2 = { 0 };
    ts = now_s();
    n = coolconf_pass(m, 0, now, &st2, &e);
    double pass_reelect_s = now_s() - ts;
    if (n < 0)
        die("re-election pass", &e);
    ts = now_s();
    coolconf_collect_pushes(&m->cat, &pv);
    double collect_s = now_s() - ts;
    size_t npushes = pv.n;
    coolconf_push_vec_release(&pv);

    /* one report of up to 100k replicas from a live backend */
    int64_t reporter = 0;
    for (size_t i = 0; i < m->cat.backends.cap && !reporter; i++)
        if (m->cat.backends.slots[i].key && m->cat.backends.slots[i].key != victim)
            reporter = m->cat.backends.slots[i].key;
    size_t cap = 100000, nr = 0;
    struct report_tablet *rt = xcalloc(cap, sizeof(*rt));
    for (size_t i = 0; i < m->cat.tablets.cap && nr < cap; i++) {
        struct fe_tablet *t = m->cat.tablets.slots[i].val;
        if (!m->cat.tablets.slots[i].key)
            continue;
        for (int k = 0; k < t->nreplicas && nr < cap; k++)
            if (t->replicas[k].backend_id == reporter) {
                struct report_tablet *x = &rt[nr++];
                x->tablet_id = t->id;
                x->replica_id = t->replicas[k].id;
                x->version = 1;
                x->cooldown_replica_id = t->cooldown_replica_id;
                x->cooldown_term = t->cooldown_term - (nr % 10 == 0);  /* 10% stale: re-push */
                x->cooldowned_version = 1;
                x->local_bytes = 1 << 20;
                snprintf(x->meta_id, sizeof(x->meta_id), "0d7c1b0e-8f7a-4c49-9d43-3f1f5e8e2a11");
            }
    }
    struct report_result res = { 0 };
    struct hs_stats hs = { 0 };
    ts = now_s();
    if (report_process(m, reporter, rt, nr, true, now, &res, &hs, &e) < 0)
        die("report", &e);
    double report_s = now_s() - ts;
    size_t report_pushes = res.pushes.n;
    report_result_release(&res);
    free(rt);
    long rss_peak = status_kb("VmHWM");

    ts = now_s();
    if (meta_checkpoint(m, &e) < 0)
        die("checkpoint", &e);
    double ckpt_s = now_s() - ts;
    uint64_t image_bytes = 0;
    fs_file_size(m->image_path, &image_bytes);
    int64_t nrep = m->cat.nreplicas;
    meta_close(m);
    ts = now_s();
    if (meta_open(dir, &p, &m, &e) < 0)
        die("reopen", &e);
    double load_s = now_s() - ts;
    if (m->cat.nreplicas != nrep)
        die("reopen lost replicas", &e);
    meta_close(m);
    long rss_end_peak = status_kb("VmHWM");

    printf("{\"bench\":\"fe_scale\",\"replicas\":%lld,\"tablets\":%ld,\"backends\":%ld,"
           "\"build_s\":%.3f,\"rss_after_build_mib\":%.1f,"
           "\"conf_pass_steady_s\":%.4f,\"conf_pass_checked\":%lld,"
           "\"conf_pass_reelect_s\":%.4f,\"reelected\":%lld,\"collect_pushes_s\":%.4f,\"pushes\":%zu,"
           "\"report_replicas\":%zu,\"report_s\":%.4f,\"report_repushes\":%zu,"
           "\"rss_peak_mib\":%.1f,\"checkpoint_s\":%.3f,\"image_mib\":%.1f,\"restart_load_s\":%.3f,"
           "\"rss_peak_with_restart_mib\":%.1f,"
           "\"goal\":{\"pass_s\":1.0,\"rss_mib\":1024},\"pass_ok\":%s}\n",
           (long long)nrep, tablets, backends, build_s, rss_built / 1024.0, pass_steady_s,
           (long long)st.checked, pass_reelect_s, (long long)st2.reelected, collect_s, npushes, nr, report_s,
           report_pushes, rss_peak / 1024.0, ckpt_s, (double)image_bytes / 1048576.0, load_s,
           rss_end_peak / 1024.0,
           pass_steady_s < 1.0 && pass_reelect_s < 1.0 && report_s < 1.0 && rss_peak < 1024 * 1024 ? "true"
                                                                                                     : "false");
    if (!dir_arg)
        fs_remove_all(dir, &e);
    free(dir);
    return 0;
}
