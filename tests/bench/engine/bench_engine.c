/*
 * bench_engine: load and scan speed of the tablet engine on one CSV file.
 *
 *   bench_engine gen FILE ROWS          writes the benchmark CSV (k int64, ts
 *                                       timestamp, v double, s low-cardinality string)
 *   bench_engine run FILE ROOT THREADS  loads FILE into THREADS tablets (one
 *                                       thread each: parse + write + commit +
 *                                       publish), then scans: (a) sum(v) over all
 *                                       rows, (b) sum(v) where k in a 1% range.
 *                                       Prints one JSON object.
 *   bench_engine scan FILE ROOT THREADS only the scans, on a ROOT loaded before
 *
 * Scans run three times; the best time counts (warm page cache, like the peer).
 */
#include "csv.h"
#include "engine.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "scan.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(const char *path, int64_t rows)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof(buf));
    uint64_t x = 88172645463325252ull;
    int64_t base = 1704067200000000LL; /* 2024-01-01 */
    for (int64_t i = 0; i < rows; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char ts[40];
        csv_format_timestamp(base + i * 1000 + (int64_t)(x % 1000), ts);
        double v = (double)(x % 1000000) / 100.0;
        fprintf(f, "%" PRId64 ",%s,%.2f,cat_%u\n", i, ts, v, (unsigned)(x >> 40) % 16);
    }
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

struct job {
    struct engine *eng;
    struct schema *schema;
    int64_t tablet;
    const char *data;
    size_t len;
    int rc;
    char msg[512];
    uint64_t rows;
    double sum;
    const struct predicate *preds;
    int npreds;
};

static void *load_main(void *arg)
{
    struct job *j = arg;
    struct err e = { 0 };
    const int types[] = { CSV_INT64, CSV_TIMESTAMP, CSV_DOUBLE, CSV_STRING };
    const bool nullable[] = { false, true, true, true };
    /* parse and write in pieces of ~1M rows: one segment each */
    size_t pos = 0;
    while (pos < j->len && j->rc == 0) {
        size_t end = pos + (64u << 20) < j->len ? pos + (64u << 20) : j->len;
        while (end < j->len && j->data[end - 1] != '\n')
            end++;
        struct csv_batch cb;
        if ((j->rc = csv_parse(j->data + pos, end - pos, 4, types, nullable, NULL, &cb, &e)) < 0)
            break;
        struct column_batch b;
        column_batch_from_csv(&b, &cb);
        j->rows += b.nrows;
        j->rc = engine_txn_write(j->eng, j->tablet, 1, &b, &e);
        column_batch_release(&b);
        pos = end;
    }
    if (j->rc == 0)
        j->rc = engine_txn_commit(j->eng, j->tablet, 1, &e);
    if (j->rc == 0)
        j->rc = engine_txn_publish(j->eng, j->tablet, 1, 2, &e);
    if (j->rc < 0)
        snprintf(j->msg, sizeof(j->msg), "%s", err_msg(&e));
    return NULL;
}

static void *scan_main(void *arg)
{
    struct job *j = arg;
    struct err e = { 0 };
    struct version *v;
    j->sum = 0;
    j->rows = 0;
    if ((j->rc = engine_snapshot(j->eng, j->tablet, &v, &e)) < 0)
        goto out;
    int proj[1] = { 2 };
    struct scan_opts o = { .version = -1, .proj = proj, .nproj = 1, .preds = j->preds, .npreds = j->npreds,
                           .limit = -1, .batch_rows = 65536 };
    struct scan *sc;
    j->rc = scan_open(v, &o, &sc, &e);
    version_unref(v);
    if (j->rc < 0)
        goto out;
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    double sum = 0;
    while (!eof && (j->rc = scan_next(sc, &b, &eof, &e)) == 0) {
        const double *d = b.cols[0].data;
        const uint8_t *nl = b.cols[0].nulls;
        for (size_t i = 0; i < b.nrows; i++)
            if (!nl || !nl[i])
                sum += d[i];
        j->rows += b.nrows;
    }
    j->sum = sum;
    column_batch_release(&b);
    scan_free(sc);
out:
    if (j->rc < 0)
        snprintf(j->msg, sizeof(j->msg), "%s", err_msg(&e));
    return NULL;
}

static int run_jobs(struct job *jobs, int n, void *(*fn)(void *))
{
    pthread_t th[64];
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, fn, &jobs[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++)
        if (jobs[i].rc < 0) {
            fprintf(stderr, "bench_engine: tablet %lld: %s\n", (long long)jobs[i].tablet, jobs[i].msg);
            return 1;
        }
    return 0;
}

static double scan_best(struct job *jobs, int n, double *ret_sum, uint64_t *ret_rows)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        if (run_jobs(jobs, n, scan_main))
            exit(1);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    *ret_sum = 0;
    *ret_rows = 0;
    for (int i = 0; i < n; i++) {
        *ret_sum += jobs[i].sum;
        *ret_rows += jobs[i].rows;
    }
    return best;
}

int main(int argc, char **argv)
{
    log_set_level(LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], atoll(argv[3]));
    bool scan_only = argc == 5 && strcmp(argv[1], "scan") == 0;
    if (argc != 5 || (strcmp(argv[1], "run") != 0 && !scan_only)) {
        fprintf(stderr, "usage: bench_engine gen FILE ROWS | bench_engine run FILE ROOT THREADS\n");
        return 2;
    }
    int nt = atoi(argv[4]);
    if (nt < 1 || nt > 64) {
        fprintf(stderr, "bench_engine: THREADS must be 1..64\n");
        return 2;
    }
    struct err e = { 0 };
    struct column_def cols[] = {
        { "k", COL_INT64, false, true }, { "ts", COL_TIMESTAMP, true, false },
        { "v", COL_DOUBLE, true, false }, { "s", COL_STRING, true, false },
    };
    struct schema *schema;
    if (schema_new(cols, 4, KEY_DUPLICATE, &schema, &e) < 0)
        return 1;
    struct engine_opts eo;
    engine_opts_default(&eo);
    eo.root = argv[3];
    eo.workers = nt;
    struct engine *eng;
    if (engine_open(&eo, &eng, &e) < 0) {
        fprintf(stderr, "bench_engine: %s\n", err_msg(&e));
        return 1;
    }
    for (int i = 0; i < nt && !scan_only; i++)
        if (engine_create_tablet(eng, 1 + i, 1, schema, &e) < 0) {
            fprintf(stderr, "bench_engine: %s\n", err_msg(&e));
            return 1;
        }
    /* load: read the file, split at line ends, one thread per tablet */
    double t0 = now_s();
    struct buf data = BUF_INIT;
    struct job jobs[64];
    memset(jobs, 0, sizeof(jobs));
    uint64_t rows = 0;
    double load_s = 0;
    size_t csv_bytes = 0;
    if (scan_only) {
        for (int i = 0; i < nt; i++) {
            struct tablet_info ti;
            if (engine_tablet_info(eng, 1 + i, &ti, &e) < 0) {
                fprintf(stderr, "bench_engine: %s\n", err_msg(&e));
                return 1;
            }
            rows += ti.num_rows;
            jobs[i] = (struct job){ .eng = eng, .schema = schema, .tablet = 1 + i };
        }
        goto scans;
    }
    if (fs_read_file(argv[2], &data, (size_t)64 << 30, &e) < 0) {
        fprintf(stderr, "bench_engine: %s\n", err_msg(&e));
        return 1;
    }
    size_t pos = 0;
    for (int i = 0; i < nt; i++) {
        size_t end = i == nt - 1 ? data.len : data.len / (size_t)nt * (size_t)(i + 1);
        while (end < data.len && end > 0 && data.data[end - 1] != '\n')
            end++;
        jobs[i] = (struct job){ .eng = eng, .schema = schema, .tablet = 1 + i, .data = data.data + pos,
                                .len = end - pos };
        pos = end;
    }
    if (run_jobs(jobs, nt, load_main))
        return 1;
    load_s = now_s() - t0;
    for (int i = 0; i < nt; i++)
        rows += jobs[i].rows;
    csv_bytes = data.len;
    buf_release(&data);
scans:;
    /* (a) full scan, sum(v) */
    double sum_a, sum_b;
    uint64_t rows_a, rows_b;
    double scan_a = scan_best(jobs, nt, &sum_a, &rows_a);
    /* (b) k in [40%, 41%) of the key range */
    int64_t lo = (int64_t)(rows * 2 / 5), hi = lo + (int64_t)(rows / 100);
    struct predicate preds[2] = { { .col = 0, .op = PRED_GE, .v = { .i = lo } },
                                  { .col = 0, .op = PRED_LT, .v = { .i = hi } } };
    for (int i = 0; i < nt; i++) {
        jobs[i].preds = preds;
        jobs[i].npreds = 2;
    }
    double scan_b = scan_best(jobs, nt, &sum_b, &rows_b);
    uint64_t disk = 0;
    struct tablet_info *tis;
    size_t ntis;
    engine_tablet_infos(eng, &tis, &ntis);
    for (size_t i = 0; i < ntis; i++) {
        disk += tis[i].data_size;
        char *mp = xasprintf("%s/meta/%lld.json", argv[3], (long long)tis[i].tablet_id);
        uint64_t sz = 0;
        fs_file_size(mp, &sz);
        disk += sz;
        free(mp);
    }
    free(tis);
    printf("{\"rows\":%" PRIu64 ",\"csv_bytes\":%zu,\"threads\":%d,\"load_s\":%.4f,\"load_rows_per_s\":%.0f,"
           "\"scan_full_s\":%.4f,\"scan_full_rows_per_s\":%.0f,\"scan_full_sum\":%.2f,"
           "\"scan_range_s\":%.4f,\"scan_range_rows_per_s\":%.0f,\"scan_range_rows\":%" PRIu64
           ",\"scan_range_sum\":%.2f,\"range_lo\":%lld,\"range_hi\":%lld,\"disk_bytes\":%" PRIu64 "}\n",
           rows, csv_bytes, nt, load_s, (double)rows / load_s, scan_a, (double)rows_a / scan_a, sum_a, scan_b,
           (double)rows / scan_b, rows_b, sum_b, (long long)lo, (long long)hi, disk);
    engine_close(eng);
    schema_unref(schema);
    return 0;
}
