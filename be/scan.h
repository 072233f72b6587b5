/*
 * scan: reads a tablet at a version as a stream of column batches.
 *
 * Projection (any columns, any order), predicates ANDed (= != < <= > >=,
 * IS NULL, IS NOT NULL, IN), limit. Comparisons never match NULL. Blocks
 * whose zone maps prove no row can match are skipped without reading their
 * pages (for the unique model only predicates on key columns prune, since a
 * newer row of a key must hide the older one even when it does not match).
 * Unique model: for each key only the newest row is returned (newest rowset,
 * and within a rowset the last row written); duplicate model: every row.
 *
 * A scan holds a reference on the version (or rowsets) it reads, so
 * compaction and cooldown can proceed meanwhile. Not thread-safe.
 */
#ifndef FLOE_BE_SCAN_H
#define FLOE_BE_SCAN_H

#include "column_batch.h"
#include "version.h"

#include <stdbool.h>
#include <stdint.h>

struct err;
struct scan;

enum pred_op { PRED_EQ, PRED_NE, PRED_LT, PRED_LE, PRED_GT, PRED_GE, PRED_IS_NULL, PRED_IS_NOT_NULL, PRED_IN };

/* A literal, read according to the column's type: i for int32/int64/bool/timestamp, d for double, s/slen for string. */
struct scan_value {
    int64_t i;
    double d;
    const char *s;
    size_t slen;
};

struct predicate {
    int col;                          /* schema column index */
    enum pred_op op;
    struct scan_value v;              /* comparisons */
    const struct scan_value *in;      /* PRED_IN: values (borrowed for the scan's life) */
    size_t nin;
};

struct scan_opts {
    int64_t version;                  /* < 0: the snapshot's max_version */
    const int *proj;                  /* NULL: all columns */
    int nproj;
    const struct predicate *preds;    /* copied at open; strings borrowed */
    int npreds;
    int64_t limit;                    /* < 0: none */
    size_t batch_rows;                /* target rows per batch, 0 = 4096 */
};

struct scan_stats {
    uint64_t blocks_total, blocks_pruned;
    uint64_t rows_read, rows_returned;
    uint64_t segments;
};

/*
 * Scan a version snapshot (referenced for the scan's life) at o->version:
 * the snapshot's rowsets, or for an older version the current and stale
 * rowsets covering exactly [0, version] (version_pick_rowsets).
 * FLOE_EVERSION when the asked version is above max_version or lies inside
 * a compacted range whose stale rowsets have expired; FLOE_EBADINPUT for
 * bad column indexes or ops.
 */
int scan_open(struct version *v, const struct scan_opts *o, struct scan **ret, struct err *e);
/* Scan exactly these rowsets (oldest first) with the given schema; for compaction. */
int scan_open_rowsets(struct schema *s, struct rowset *const *rs, size_t n, const struct scan_opts *o,
                      struct scan **ret, struct err *e);
/* An empty batch with the projected columns' types. */
void scan_init_batch(const struct scan *s, struct column_batch *out);
/*
 * Clears out and fills it with the next rows (about batch_rows, never more
 * than the limit allows). *ret_eof is true when no rows remain (out may
 * still hold rows from this call).
 */
int scan_next(struct scan *s, struct column_batch *out, bool *ret_eof, struct err *e);
void scan_get_stats(const struct scan *s, struct scan_stats *ret);
void scan_free(struct scan *s);

#endif
