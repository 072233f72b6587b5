/*
 * handshake: the FE side of the remote delete handshake (DESIGN §3).
 *
 * The cooldown replica of a tablet reports a candidate set of orphan objects
 * under a delete_id together with its term, cooldown_meta_id and
 * cooldowned_version. The FE confirms (answers cooldown_delete(tablet,
 * delete_id)) only when all of these hold:
 *   - this FE is master;
 *   - the tablet exists and has a cooldown conf;
 *   - the reporter is the tablet's cooldown replica, under the current term;
 *   - every replica of the tablet is on an alive backend, is not bad, has
 *     reported recently, and reported the same term, cooldown_meta_id and
 *     cooldowned_version as the reporter.
 * The confirmation is journaled before it is sent, so an FE that has lost its
 * journal (a deposed master) cannot confirm. Every answer is counted, by
 * reason, for metrics.
 */
#ifndef FLOE_FE_HANDSHAKE_H
#define FLOE_FE_HANDSHAKE_H

#include "catalog.h"

#include <stdint.h>

struct err;
struct fe_meta;

enum hs_reason {
    HS_CONFIRMED = 0,
    HS_NOT_MASTER,
    HS_UNKNOWN_TABLET,
    HS_NO_CONF,
    HS_NOT_COOLDOWN_REPLICA,
    HS_STALE_TERM,
    HS_REPLICA_DEAD,         /* a replica's backend is not alive */
    HS_REPLICA_BAD,          /* a replica is bad, lagging or being cloned */
    HS_REPLICA_SILENT,       /* a replica has not reported recently */
    HS_TERM_MISMATCH,
    HS_META_MISMATCH,
    HS_VERSION_MISMATCH,
    HS_JOURNAL_FAILED,
    HS__COUNT
};

const char *handshake_reason_name(enum hs_reason r);

struct hs_request {
    int64_t tablet_id;
    int64_t replica_id;          /* the reporter */
    int64_t term;
    int64_t cooldowned_version;
    const char *meta_id;         /* cooldown_meta_id */
    int64_t delete_id;
};

struct hs_stats {
    int64_t confirmed;
    int64_t refused[HS__COUNT];
};

/* The rule alone: HS_CONFIRMED or the first reason to refuse. */
enum hs_reason handshake_check(const struct fe_meta *m, const struct hs_request *rq, int64_t now_ms);

/* Checks, journals a confirmation, counts. Returns the reason; the caller
 * sends cooldown_delete only for HS_CONFIRMED. */
enum hs_reason handshake_handle(struct fe_meta *m, const struct hs_request *rq, int64_t now_ms,
                                struct hs_stats *st);

#endif
