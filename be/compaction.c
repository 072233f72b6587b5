/*
 * compaction: merges contiguous local rowsets into one.
 *
 * Cumulative: the first run of at least cumulative_min_rowsets consecutive
 * small rowsets after the base. Base: the base rowset and everything local
 * that follows it, once there are base_min_rowsets rowsets. Merging reads
 * the inputs with the scan code (so the unique model keeps only the newest
 * row of each key), writes a new rowset covering the union of the version
 * ranges, then swaps it in on the tablet's worker, re-checking that the
 * inputs are still there and still allowed (cooldown may have moved them).
 * The inputs stay as stale rowsets for stale_rowset_keep_ms (scans at
 * versions inside the merged range), then their files go when the last
 * snapshot using them is released.
 *
 * Cooldown span: with a cooldown_ttl policy a rowset is cold once its
 * newest write is ttl old, and a merge's output carries its inputs' newest
 * write. Merging the oldest local rowset with fresh ones again and again
 * would keep it from ever becoming cold (cooling stalls under continuous
 * loads), so automatic compaction only merges rowsets whose writes, from
 * the oldest input's oldest row to the newest input's newest row, span at
 * most the ttl: every row is cold at most one ttl later than it would be
 * without compaction.
 */
#define LOG_MODULE "compaction"
#include "engine_int.h"

#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "scan.h"
#include "segment_writer.h"
#include "tpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPACTION_SEGMENT_ROWS 4000000ull

static bool allowed(struct engine *eng, const struct version *v, const struct rowset *rs)
{
    if (!rowset_is_local(rs))
        return false;
    compaction_filter_cb cb;
    void *ctx;
    pthread_mutex_lock(&eng->mu);
    cb = eng->filter;
    ctx = eng->filter_ctx;
    pthread_mutex_unlock(&eng->mu);
    return !cb || cb(ctx, v, rs);
}

/* The longest write-time span a merge may cover, in ms; INT64_MAX = no limit (no policy or no ttl). */
static int64_t cooldown_span_ms(const struct version *v)
{
    if (!v->cd.storage_policy)
        return INT64_MAX;
    int64_t ttl_s, dt_s;
    cooldown_state_policy_times(&v->cd, &ttl_s, &dt_s);
    if (ttl_s <= 0 || ttl_s > INT64_MAX / 1000)
        return INT64_MAX;
    return ttl_s * 1000;
}

/* A run of rowsets: the oldest and newest write times of its members. */
struct span {
    int64_t lo, hi;
};

static void span_start(struct span *s, const struct rowset *rs)
{
    s->lo = rs->oldest_write_ms;
    s->hi = rs->newest_write_ms;
}

/* Adds rs to the span when the result stays within max_ms; false (span unchanged) otherwise. */
static bool span_add(struct span *s, const struct rowset *rs, int64_t max_ms)
{
    int64_t lo = rs->oldest_write_ms < s->lo ? rs->oldest_write_ms : s->lo;
    int64_t hi = rs->newest_write_ms > s->hi ? rs->newest_write_ms : s->hi;
    if (max_ms != INT64_MAX && (hi - lo > max_ms || hi < lo))
        return false;
    s->lo = lo;
    s->hi = hi;
    return true;
}

static bool pick(struct engine *eng, const struct version *v, enum compaction_kind kind, size_t *from, size_t *to)
{
    const struct engine_opts *o = &eng->opts;
    int64_t max_span = cooldown_span_ms(v);
    struct span sp;
    if (kind == COMPACTION_BASE) {
        size_t k = 0;
        if (v->nrowsets)
            span_start(&sp, v->rowsets[0]);
        while (k < v->nrowsets && allowed(eng, v, v->rowsets[k]) && span_add(&sp, v->rowsets[k], max_span))
            k++;
        if (k < 2)
            return false;
        /* the base absorbs the rest when there are many rowsets or the rest grew large next to it */
        uint64_t rest = 0;
        for (size_t i = 1; i < k; i++)
            rest += v->rowsets[i]->data_size;
        if (k < (size_t)o->base_min_rowsets && rest * 100 < v->rowsets[0]->data_size * (uint64_t)o->base_size_ratio_pct)
            return false;
        *from = 0;
        *to = k - 1;
        return true;
    }
    size_t i = 1;
    while (i < v->nrowsets) {
        size_t j = i;
        bool too_long = false;
        span_start(&sp, v->rowsets[i]);
        while (j < v->nrowsets && v->rowsets[j]->data_size <= o->cumulative_max_bytes &&
               allowed(eng, v, v->rowsets[j]) && j - i < (size_t)o->cumulative_max_rowsets &&
               !(too_long = !span_add(&sp, v->rowsets[j], max_span)))
            j++;
        if (j - i >= (size_t)o->cumulative_min_rowsets && j - i >= 2) {
            *from = i;
            *to = j - 1;
            return true;
        }
        /* a run cut by the span limit starts again at the rowset that did not fit */
        i = too_long && j > i ? i + 1 : j + 1;
    }
    return false;
}

struct swap_ctx {
    char (*ids)[UUID_STR_LEN];
    size_t n;
    struct rowset *out;
};

static int swap_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct swap_ctx *c = arg;
    const struct version *v = t->cur;
    ssize_t at = version_find_rowset(v, c->ids[0]);
    if (at < 0 || (size_t)at + c->n > v->nrowsets)
        return err_set(e, FLOE_EBUSY, "tablet %lld: compaction inputs changed meanwhile", (long long)t->id);
    for (size_t i = 0; i < c->n; i++) {
        const struct rowset *rs = v->rowsets[(size_t)at + i];
        if (strcmp(rs->id, c->ids[i]) != 0 || !allowed(t->eng, v, rs))
            return err_set(e, FLOE_EBUSY, "tablet %lld: compaction inputs changed meanwhile", (long long)t->id);
    }
    int r = FAULT_POINT("compaction.swap");
    if (r < 0)
        return err_set(e, r, "tablet %lld: injected compaction swap fault", (long long)t->id);
    struct version *nv = version_copy(v);
    int64_t now = fs_now_ms();
    version_drop_expired_stale(nv, now);
    /* the inputs stay readable for scans at versions inside the merged range (not in the meta) */
    int64_t keep = t->eng->opts.stale_rowset_keep_ms;
    for (size_t i = 0; keep > 0 && i < c->n; i++)
        version_add_stale(nv, v->rowsets[(size_t)at + i], now + keep);
    version_replace_rowsets(nv, (size_t)at, c->n, &c->out, 1);
    if ((r = version_check(nv, e)) < 0 || (r = tablet_save_meta(t, nv, TXN_NONE, NULL, NULL, e)) < 0) {
        version_unref(nv);
        return r;
    }
    (void)FAULT_POINT("compaction.swap.after_save");
    tablet_swap(t, nv);
    return 0;
}

/*
 * Finishes *w and appends its stats to *segs. On success *w is freed and
 * NULL; on failure it stays for the caller to free.
 */
static int finish_segment(struct segment_writer **w, struct rowset_segment **segs, int *nsegs, struct err *e)
{
    struct segment_stats st;
    int r = segment_writer_finish(*w, &st, e);
    if (r < 0)
        return r;
    segment_writer_free(*w);
    *w = NULL;
    *segs = xrealloc(*segs, (size_t)(*nsegs + 1) * sizeof(**segs));
    (*segs)[*nsegs].size = st.size;
    (*segs)[*nsegs].rows = st.rows;
    (*nsegs)++;
    return 0;
}

int compaction_merge_to_local(struct schema *schema, struct rowset *const *in, size_t n, const char *dir,
                              const char *id, uint64_t seg_rows, struct rowset_segment **ret_segs, int *ret_nsegs,
                              struct err *e)
{
    struct scan_opts so = { .version = -1, .limit = -1, .batch_rows = 65536 };
    struct scan *sc = NULL;
    struct column_batch b = { 0 };
    struct segment_writer *w = NULL;
    struct rowset_segment *segs = NULL;
    int nsegs = 0;
    int r = scan_open_rowsets(schema, in, n, &so, &sc, e);
    if (r < 0)
        goto out;
    scan_init_batch(sc, &b);
    bool eof = false;
    while (!eof) {
        if ((r = scan_next(sc, &b, &eof, e)) < 0)
            goto out;
        size_t done = 0;
        while (done < b.nrows) {
            if (!w) {
                char *p = xasprintf("%s/%s_%d.dat", dir, id, nsegs);
                r = segment_writer_open(p, schema, &w, e);
                free(p);
                if (r < 0)
                    goto out;
            }
            uint64_t room = seg_rows - segment_writer_rows(w);
            size_t k = b.nrows - done < room ? b.nrows - done : (size_t)room;
            if ((r = segment_writer_add(w, &b, done, k, e)) < 0)
                goto out;
            done += k;
            if (segment_writer_rows(w) >= seg_rows && (r = finish_segment(&w, &segs, &nsegs, e)) < 0)
                goto out;
        }
    }
    if (w && (r = finish_segment(&w, &segs, &nsegs, e)) < 0)
        goto out;
out:
    segment_writer_free(w);
    column_batch_release(&b);
    scan_free(sc);
    if (r < 0) {
        rowset_delete_local_files(dir, id, nsegs);
        free(segs);
        segs = NULL;
        nsegs = 0;
    }
    *ret_segs = segs;
    *ret_nsegs = nsegs;
    return r;
}

static int merge(struct engine *eng, struct tablet *t, struct version *v, size_t from, size_t to, struct err *e)
{
    size_t n = to - from + 1;
    struct rowset **in = v->rowsets + from;
    char id[UUID_STR_LEN];
    int r = uuid_new_str(id);
    if (r < 0)
        return err_errno(e, -r, "uuid");
    struct rowset_segment *segs = NULL;
    int nsegs = 0;
    int64_t newest = 0, oldest = INT64_MAX;
    uint64_t in_rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i]->newest_write_ms > newest)
            newest = in[i]->newest_write_ms;
        if (in[i]->oldest_write_ms < oldest)
            oldest = in[i]->oldest_write_ms;
        in_rows += in[i]->num_rows;
    }
    if ((r = compaction_merge_to_local(v->schema, in, n, t->data_dir, id, COMPACTION_SEGMENT_ROWS, &segs, &nsegs,
                                       e)) < 0)
        goto out;
    if ((r = fs_fsync_dir(t->data_dir, e)) < 0)
        goto out;
    struct swap_ctx c;
    c.n = n;
    c.ids = xcalloc(n, sizeof(*c.ids));
    for (size_t i = 0; i < n; i++)
        memcpy(c.ids[i], in[i]->id, UUID_STR_LEN);
    c.out = rowset_new(id, t->id, in[0]->start, in[n - 1]->end, segs, nsegs, newest, NULL, t->data_dir);
    c.out->oldest_write_ms = oldest < newest ? oldest : newest;
    uint64_t out_rows = c.out->num_rows;
    r = engine_tablet_exec(eng, t->id, swap_on_worker, &c, e);
    rowset_unref(c.out);
    free(c.ids);
    if (r == 0)
        tlog_info(t->id, "compacted %zu rowsets [%lld,%lld]: %llu rows -> %llu", n, (long long)in[0]->start,
                  (long long)in[n - 1]->end, (unsigned long long)in_rows, (unsigned long long)out_rows);
out:
    if (r < 0)
        rowset_delete_local_files(t->data_dir, id, nsegs);
    free(segs);
    return r;
}

/* floe_be_compactions_total{kind,result}: kind cumulative, base or manual (a given rowset range). */
static void count_compaction(enum compaction_kind kind, bool range, bool ok)
{
    char n[96];
    snprintf(n, sizeof(n), "floe_be_compactions_total{kind=\"%s\",result=\"%s\"}",
             range ? "manual" : kind == COMPACTION_BASE ? "base" : "cumulative", ok ? "ok" : "failed");
    metrics_inc(metrics_counter(n, "local compactions that swapped in a merged rowset (ok) or gave up (failed)"));
}

static int run(struct engine *eng, int64_t tablet_id, enum compaction_kind kind, bool range, size_t from, size_t to,
               bool *ret_done, struct err *e)
{
    if (ret_done)
        *ret_done = false;
    struct tablet *t = engine_get_tablet(eng, tablet_id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld not found", (long long)tablet_id);
    int r = 0;
    int expect = 0;
    if (t->bad) {
        r = err_set(e, FLOE_EBADSTATE, "tablet %lld is bad: %s", (long long)tablet_id, t->reason);
        goto out;
    }
    if (!__atomic_compare_exchange_n(&t->compacting, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        r = err_set(e, FLOE_EBUSY, "tablet %lld: a compaction is already running", (long long)tablet_id);
        goto out;
    }
    struct version *v = tablet_snapshot(t);
    if (!v) {
        r = err_set(e, FLOE_ENOTFOUND, "tablet %lld was dropped", (long long)tablet_id);
    } else if (range) {
        if (from > to || to >= v->nrowsets) {
            r = err_set(e, FLOE_EBADINPUT, "tablet %lld: rowset range [%zu,%zu] of %zu", (long long)tablet_id, from,
                        to, v->nrowsets);
        } else {
            for (size_t i = from; i <= to && r == 0; i++)
                if (!allowed(eng, v, v->rowsets[i]))
                    r = err_set(e, FLOE_EBUSY, "tablet %lld: rowset %s may not be compacted", (long long)tablet_id,
                                v->rowsets[i]->id);
            if (r == 0) {
                r = merge(eng, t, v, from, to, e);
                count_compaction(kind, true, r == 0);
                if (r == 0 && ret_done)
                    *ret_done = true;
            }
        }
    } else if (pick(eng, v, kind, &from, &to)) {
        r = merge(eng, t, v, from, to, e);
        count_compaction(kind, false, r == 0);
        if (r == 0 && ret_done)
            *ret_done = true;
    }
    version_unref(v);
    __atomic_store_n(&t->compacting, 0, __ATOMIC_RELEASE);
out:
    tablet_unref(t);
    return r;
}

int engine_compact(struct engine *eng, int64_t tablet_id, enum compaction_kind kind, bool *ret_done, struct err *e)
{
    return run(eng, tablet_id, kind, false, 0, 0, ret_done, e);
}

int engine_compact_range(struct engine *eng, int64_t tablet_id, size_t from, size_t to, struct err *e)
{
    return run(eng, tablet_id, COMPACTION_CUMULATIVE, true, from, to, NULL, e);
}

struct job {
    struct engine *eng;
    int64_t id;
};

static void job_main(void *arg)
{
    struct job *j = arg;
    struct err e = { 0 };
    bool done = false;
    if (engine_compact(j->eng, j->id, COMPACTION_CUMULATIVE, &done, &e) < 0 && e.code != FLOE_EBUSY)
        tlog_warn(j->id, "cumulative compaction: %s", err_msg(&e));
    if (!done && engine_compact(j->eng, j->id, COMPACTION_BASE, &done, &e) < 0 && e.code != FLOE_EBUSY)
        tlog_warn(j->id, "base compaction: %s", err_msg(&e));
    free(j);
}

void compaction_schedule_tablet(struct engine *eng, struct tablet *t)
{
    if (t->bad || t->dropped || __atomic_load_n(&t->compacting, __ATOMIC_ACQUIRE))
        return;
    struct version *v = tablet_snapshot(t);
    if (!v)
        return;
    size_t a, b;
    bool want = pick(eng, v, COMPACTION_CUMULATIVE, &a, &b) || pick(eng, v, COMPACTION_BASE, &a, &b);
    version_unref(v);
    if (!want)
        return;
    struct job *j = xcalloc(1, sizeof(*j));
    j->eng = eng;
    j->id = t->id;
    if (tpool_try_submit(eng->cpool, job_main, j) < 0)
        free(j);
}
