/*
 * report: processing of one backend's tablet report. For each reported
 * replica the FE records its state (version, cooldown conf as the replica
 * sees it, cooldown_meta_id, cooldowned_version, sizes). Then:
 *   - a replica the FE does not know (dropped table, moved replica) goes on
 *     the drop list for that backend;
 *   - a replica whose cooldown conf differs from the FE's gets a re-push;
 *     one that reports a term above the FE's makes the next conf pass lift
 *     the term above it;
 *   - a replica reported bad, or missing from two reports in a row, is
 *     marked bad (journaled) so repair re-clones it;
 *   - a normal replica reporting a version below the one the FE published
 *     (a publish lost with a crash) is marked lagging at its version, once
 *     REPORT_PUBLISH_GRACE_MS passed since the FE's last publish of it;
 *   - a delete_id from the cooldown replica runs the delete handshake
 *     (after all of this report's replicas are recorded).
 */
#ifndef FLOE_FE_REPORT_H
#define FLOE_FE_REPORT_H

#include "coolconf.h"
#include "handshake.h"
#include "uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct fe_meta;

#define REPORT_PUBLISH_GRACE_MS 30000

struct report_tablet {
    int64_t tablet_id;
    int64_t replica_id;
    int64_t version;
    int64_t cooldown_replica_id;
    int64_t cooldown_term;
    int64_t cooldowned_version;
    int64_t local_bytes;
    int64_t remote_bytes;
    bool bad;
    char meta_id[UUID_STR_LEN];    /* "" when none */
    int64_t delete_id;             /* 0 when no candidate set */
};

struct report_drop {
    int64_t tablet_id;
    int64_t replica_id;
};

struct report_delete {
    int64_t tablet_id;
    int64_t delete_id;
    int64_t term;
};

struct report_result {
    struct coolconf_push_vec pushes;     /* to this backend */
    struct report_drop *drops;
    size_t ndrops;
    struct report_delete *deletes;       /* confirmed: send cooldown_delete */
    size_t ndeletes;
    int64_t marked_bad;
    int64_t marked_lagging;
    int64_t term_behind;
};

void report_result_release(struct report_result *r);

/* full: the report lists every replica on the backend (otherwise replicas
 * missing from it are not counted as missing). */
int report_process(struct fe_meta *m, int64_t backend_id, const struct report_tablet *rt, size_t n, bool full,
                   int64_t now_ms, struct report_result *out, struct hs_stats *hs, struct err *e);

#endif
