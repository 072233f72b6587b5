/*
 * engine: the BE's storage root and its tablets.
 *
 * Layout under root:
 *   meta/{tablet_id}.json      one tablet meta per tablet (the only truth)
 *   data/{tablet_id}/{rowset_id}_{n}.dat   local segment files
 *
 * engine_open loads every meta (a bad meta marks that tablet bad, reported
 * by engine_tablet_info, and the engine still starts), then deletes local
 * files and directories no meta references (and staged writes of txns that
 * were never committed).
 *
 * Every change to a tablet runs on its worker thread (worker.h). Readers
 * take a version snapshot (engine_snapshot) and release it with
 * version_unref; files are deleted only when no snapshot references them.
 *
 * Extension points for cooldown:
 *   engine_tablet_exec   run a function on the tablet's worker
 *   tablet_current       the installed version (borrowed, on the worker only)
 *   tablet_install       persist + swap a new version (on the worker only)
 *   engine_set_compaction_filter   veto compaction of given rowsets
 *   rowset_set_remote_opener       read segments of remote rowsets
 */
#ifndef FLOE_BE_ENGINE_H
#define FLOE_BE_ENGINE_H

#include "column_batch.h"
#include "schema.h"
#include "version.h"

#include <stdbool.h>
#include <stdint.h>

struct err;
struct engine;
struct tablet;

struct engine_opts {
    const char *root;
    int workers;                       /* tablet worker threads, >= 1 */
    int compaction_threads;            /* compaction pool, >= 1 */
    bool auto_compaction;              /* background scheduler on */
    int64_t compaction_interval_ms;    /* scheduler period */
    int cumulative_min_rowsets;        /* small rowsets in a run before they merge */
    int cumulative_max_rowsets;        /* at most this many per merge */
    uint64_t cumulative_max_bytes;     /* a rowset up to this size is "small" */
    int base_min_rowsets;              /* rowsets before the base absorbs the rest */
    int base_size_ratio_pct;           /* ...or once the rest is this % of the base's size */
    int64_t stale_rowset_keep_ms;      /* keep compacted-away local rowsets this long for scans at older
                                          versions; 0 = delete them once no snapshot uses them */
    int64_t txn_timeout_ms;            /* an unpublished txn (staged or committed) with no write or commit
                                          for this long is aborted by the scheduler; 0 = never */
};

/* Defaults: 4 workers, 1 compaction thread, auto off, 5 / 50 / 64 MiB / 8 / 30%, stale rowsets kept 300 s,
 * txns time out after 1 h. */
void engine_opts_default(struct engine_opts *o);

int engine_open(const struct engine_opts *o, struct engine **ret, struct err *e);
/* Stops the scheduler and workers; waits for running compactions. Accepts NULL. */
void engine_close(struct engine *eng);
const char *engine_root(const struct engine *eng);

/* A new tablet at version 1 (one empty rowset [0,1]). FLOE_EEXIST if it exists. */
int engine_create_tablet(struct engine *eng, int64_t tablet_id, int64_t replica_id, struct schema *schema,
                         struct err *e);
/* Same with an initial version (>= 1, one empty rowset [0,version]) and cooldown state (copied; NULL = none). */
int engine_create_tablet_ex(struct engine *eng, int64_t tablet_id, int64_t replica_id, struct schema *schema,
                            int64_t version, const struct cooldown_state *cd, struct err *e);
/*
 * Adopts v (schema, rowsets, cooldown state; not consumed) as the tablet's
 * whole state: creates the tablet or replaces an older one (FLOE_EVERSION
 * when the local replica is newer). Local rowsets' files must already be in
 * engine_tablet_dir(). For clone.
 */
int engine_install_clone(struct engine *eng, int64_t tablet_id, int64_t replica_id, struct version *v,
                         struct err *e);
/* "{root}/data/{tablet_id}" (malloc'd), also for tablets that do not exist yet. */
char *engine_tablet_dir(struct engine *eng, int64_t tablet_id);
/* Removes the meta, then the local files once no snapshot uses them. FLOE_ENOTFOUND if absent. */
int engine_drop_tablet(struct engine *eng, int64_t tablet_id, struct err *e);

/* The current snapshot (referenced; release with version_unref). */
int engine_snapshot(struct engine *eng, int64_t tablet_id, struct version **ret, struct err *e);

struct tablet_info {
    int64_t tablet_id;
    int64_t replica_id;
    bool bad;                  /* meta failed to load */
    char reason[256];          /* why it is bad */
    int64_t max_version;
    uint64_t num_rows;
    uint64_t data_size;        /* local + remote segment bytes */
    uint64_t local_size;
    size_t nrowsets;
    size_t ntxns;              /* committed, not yet published */
    size_t nstale;             /* stale (compacted-away, still kept) local rowsets */
    uint64_t stale_size;       /* their segment bytes */
    int64_t cooldown_replica_id, cooldown_term, cooldowned_version;
    char cooldown_meta_id[UUID_STR_LEN];
};
/* All tablets, sorted by id; *ret malloc'd. */
int engine_tablet_infos(struct engine *eng, struct tablet_info **ret, size_t *ret_n);
int engine_tablet_info(struct engine *eng, int64_t tablet_id, struct tablet_info *ret, struct err *e);

/* ---- loads (txn.c) ---- */
/* Writes the batch as one staged segment of the txn (invisible until publish). */
int engine_txn_write(struct engine *eng, int64_t tablet_id, int64_t txn_id, const struct column_batch *b,
                     struct err *e);
/* Makes the txn's rowset durable (meta); idempotent. */
int engine_txn_commit(struct engine *eng, int64_t tablet_id, int64_t txn_id, struct err *e);
/*
 * Makes the txn visible as version `version`, which must be max_version + 1
 * (FLOE_EVERSION otherwise). Publishing an already published txn at the
 * same version succeeds and changes nothing. Fault points "txn.publish"
 * (before the meta save) and "txn.publish.after_save".
 */
int engine_txn_publish(struct engine *eng, int64_t tablet_id, int64_t txn_id, int64_t version, struct err *e);
/* Drops the txn and its files; unknown txns are fine; published ones are FLOE_ETXN. */
int engine_txn_abort(struct engine *eng, int64_t tablet_id, int64_t txn_id, struct err *e);

/* Same, telling whether the txn existed on the tablet. */
int engine_txn_abort_ex(struct engine *eng, int64_t tablet_id, int64_t txn_id, bool *ret_existed, struct err *e);
/*
 * Rows written so far by an unpublished txn and, once committed, its rowset
 * (referenced; NULL before commit). FLOE_ENOTFOUND for unknown txns.
 */
int engine_txn_info(struct engine *eng, int64_t tablet_id, int64_t txn_id, uint64_t *ret_rows,
                    struct rowset **ret_rowset, struct err *e);

/* ---- compaction (compaction.c) ---- */
enum compaction_kind { COMPACTION_CUMULATIVE = 1, COMPACTION_BASE = 2 };
/*
 * Return false to keep a rowset out of compaction (e.g. a follower must not
 * compact cold-eligible rowsets). Called on the tablet's worker.
 */
typedef bool (*compaction_filter_cb)(void *ctx, const struct version *v, const struct rowset *rs);
void engine_set_compaction_filter(struct engine *eng, compaction_filter_cb cb, void *ctx);
/*
 * Runs one compaction of that kind now in the calling thread (the swap goes
 * through the worker). *ret_done = false when nothing qualified.
 */
int engine_compact(struct engine *eng, int64_t tablet_id, enum compaction_kind kind, bool *ret_done,
                   struct err *e);
/*
 * Merges rowsets in[0..n) in scan order (unique keys resolved, newest wins)
 * into new segment files dir/{id}_{i}.dat of at most seg_rows rows each and
 * returns their stats in *ret_segs (caller frees). On failure the files it
 * wrote are removed and *ret_segs is NULL. The directory is not fsynced.
 */
int compaction_merge_to_local(struct schema *schema, struct rowset *const *in, size_t n, const char *dir,
                              const char *id, uint64_t seg_rows, struct rowset_segment **ret_segs, int *ret_nsegs,
                              struct err *e);
/*
 * Forgets the tablet's stale rowsets whose keep time ended by now_ms (< 0:
 * the wall clock now); their files go when the last snapshot using them is
 * released. *ret_n (may be NULL) = how many. The background scheduler does
 * this every compaction interval when auto_compaction or a keep time is set.
 */
int engine_expire_stale(struct engine *eng, int64_t tablet_id, int64_t now_ms, size_t *ret_n, struct err *e);
/*
 * Aborts the tablet's unpublished txns (staged or committed) whose newest
 * write or commit is older than now_ms - timeout_ms (now_ms < 0: the wall
 * clock now), as engine_txn_abort does: their files go, a committed one
 * leaves the meta. *ret_n (may be NULL) = how many. The background
 * scheduler does this about once a minute when txn_timeout_ms is set: it
 * bounds what a coordinator that vanished between write and publish leaves
 * on disk.
 */
int engine_txn_expire(struct engine *eng, int64_t tablet_id, int64_t now_ms, int64_t timeout_ms, size_t *ret_n,
                      struct err *e);
/* Merge exactly rowsets [from, to] (indexes in the current version); for tests and cooldown. */
int engine_compact_range(struct engine *eng, int64_t tablet_id, size_t from, size_t to, struct err *e);

/* ---- the worker interface for cooldown and the RPC service ---- */
typedef int (*tablet_fn)(struct tablet *t, void *arg, struct err *e);
/* Runs fn on the tablet's worker and returns its result. FLOE_ENOTFOUND / FLOE_EBADSTATE for missing / bad tablets. */
int engine_tablet_exec(struct engine *eng, int64_t tablet_id, tablet_fn fn, void *arg, struct err *e);
int64_t tablet_id(const struct tablet *t);
int64_t tablet_replica_id(const struct tablet *t);
/* "{root}/data/{tablet_id}" */
const char *tablet_data_dir(const struct tablet *t);
struct engine *tablet_engine(const struct tablet *t);
/* Worker only: the installed version, borrowed until the next install. */
const struct version *tablet_current(const struct tablet *t);
/*
 * Worker only: persists nv (with the txn state) as the tablet meta, installs
 * it, and retires rowsets of the old version that nv no longer lists (their
 * local files go when the last snapshot does). Consumes the caller's
 * reference to nv on success and on failure; on failure nothing changed.
 * Fault points "meta.save" and the fs.atomic.* points of common/fsutil.
 */
int tablet_install(struct tablet *t, struct version *nv, struct err *e);

#endif
