/*
 * engine_int: the engine's and tablets' internal state, shared by
 * engine.c, txn.c and compaction.c only.
 *
 * Invariants: t->cur changes only on the tablet's worker and only after the
 * meta naming it is durable; t->mu guards the pointer (readers ref it under
 * the lock). Txn and publish state is touched only on the worker.
 */
#ifndef FLOE_BE_ENGINE_INT_H
#define FLOE_BE_ENGINE_INT_H

#include "engine.h"
#include "tablet_meta.h"
#include "worker.h"

#include <pthread.h>

struct tpool;

struct stx {
    int64_t txn_id;
    bool committed;
    char rowset_id[UUID_STR_LEN];
    int nsegs;                     /* reserved segment slots */
    struct rowset_segment *segs;
    bool *done;
    int64_t write_ms;              /* newest write */
    int64_t first_ms;              /* oldest write (0 after a restart: the committed rowset has it) */
    struct rowset *rs;             /* set at commit */
};

struct tablet {
    int refs;                      /* atomic */
    int64_t id, replica_id;
    struct engine *eng;
    char *meta_path, *data_dir;
    pthread_mutex_t mu;
    struct version *cur;           /* NULL for a bad tablet */
    bool bad;
    char reason[256];
    bool dropped;
    int compacting;                /* atomic: a compaction of this tablet is running */
    /* worker only */
    struct stx *txns;
    size_t ntxns;
    struct pub_entry *pubs;
    size_t npubs;
};

struct engine {
    struct engine_opts opts;
    char *root, *meta_dir, *data_dir;
    struct worker_group *workers;
    pthread_mutex_t mu;
    struct tablet **tablets;       /* sorted by id */
    size_t ntablets, cap;
    compaction_filter_cb filter;
    void *filter_ctx;
    struct tpool *cpool;
    pthread_t sched;
    bool sched_running;
    bool stop;
    pthread_cond_t stop_cond;
};

#define TXN_NONE INT64_MIN

struct tablet *engine_get_tablet(struct engine *eng, int64_t id);
struct tablet *tablet_ref(struct tablet *t);
void tablet_unref(struct tablet *t);
/* Worker only: the current version, referenced. */
struct version *tablet_snapshot(struct tablet *t);
/*
 * Worker only: saves the meta for nv with the tablet's committed txns except
 * skip_txn, plus an extra committed txn (NULL = none) and an extra published
 * entry (NULL = none). Does not change t.
 */
int tablet_save_meta(struct tablet *t, const struct version *nv, int64_t skip_txn, const struct stx *add_txn,
                     const struct pub_entry *add_pub, struct err *e);
/* Worker only: swaps in nv (consumes the reference) and retires what it dropped. Meta must be saved. */
void tablet_swap(struct tablet *t, struct version *nv);
void stx_release(struct stx *x);

/* compaction.c: the scheduler's per-tablet check (on a pool thread). */
void compaction_schedule_tablet(struct engine *eng, struct tablet *t);

#endif
