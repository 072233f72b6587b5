/*
 * cooldown_int: state shared by cooldown.c, cooldown_gc.c and
 * cooldown_compact.c only.
 *
 * cd->mu guards the runtime map (struct cd_tablet) and the stats; it is
 * never held across I/O or a worker call. A per-tablet step lock
 * (cd_step_lock) serialises steps (upload, follow, cold compaction, GC,
 * drop) so one tablet never has two of them in flight, while different
 * tablets step in parallel; every state change still goes through the worker.
 */
#ifndef FLOE_BE_COOLDOWN_INT_H
#define FLOE_BE_COOLDOWN_INT_H

#include "buf.h"
#include "cooldown.h"
#include "engine.h"
#include "file_cache.h"
#include "objstore.h"
#include "remote_meta.h"
#include "resource.h"
#include "tpool.h"
#include "version.h"

#include <pthread.h>

struct metric;

/* Runtime (not persisted) state of one tablet. */
struct cd_tablet {
    int64_t id;
    int64_t replica_id;              /* this BE's replica, -1 until seen */
    bool recovered;                  /* the uploader re-read its own meta since start */
    bool stepping;                   /* a step holds the tablet's step lock */
    /* follower: the last meta fetched and its etag */
    char etag_key[128];
    char etag[OBJSTORE_ETAG_MAX];
    struct buf body;
    /* uploads in flight: new rowset ids (pending) and the local rowsets they copy (sources) */
    char **pending;
    size_t npending;
    char **sources;
    size_t nsources;
    /* remote rowsets this process retired (held so GC sees live snapshots) */
    struct rowset **live;
    size_t nlive;
    /* GC candidates */
    int64_t delete_id;
    char **cand;
    size_t ncand;
};

struct cooldown {
    struct engine *eng;
    struct resource_registry *res;
    struct file_cache *cache;
    struct cooldown_opts o;
    struct tpool *up_pool;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_cond_t step_cond;        /* a tablet's step lock was released */
    pthread_t thread;
    bool running, stop;
    struct cd_tablet **tabs;
    size_t ntab;
    struct cooldown_stats st;
    int64_t last_gc_ms;              /* pass thread only */
    /* tablets dropped here and their resource (newest last, bounded): a
     * later drop of the last replica still finds the remote prefix */
    struct cd_dropped { int64_t id; char *resource; } *dropped;
    size_t ndropped;
};

struct cooldown_metrics {
    struct metric *up_bytes, *up_objects, *metas, *adopted, *refused, *not_modified;
    struct metric *gc_cand, *gc_deleted, *up_fail, *cold_compactions, *recuts, *damaged;
};
extern struct cooldown_metrics cd_metrics;

/* A consistent view taken on the worker: the version (referenced), our replica id, the resource (referenced, may be NULL). */
struct cd_snap {
    struct version *v;
    int64_t replica_id;
    struct resource *res;
};
int cd_snap(struct cooldown *cd, int64_t tablet_id, struct cd_snap *s, struct err *e);
void cd_snap_release(struct cd_snap *s);

/* The tablet's step lock (waits while another step of the tablet runs). */
void cd_step_lock(struct cooldown *cd, int64_t tablet_id);
void cd_step_unlock(struct cooldown *cd, int64_t tablet_id);
/* Under cd->mu: the runtime state of a tablet (created on first use). */
struct cd_tablet *cd_tablet_get(struct cooldown *cd, int64_t id);
bool cd_strv_has(char *const *v, size_t n, const char *s);
int64_t cd_extra_i64(const struct cooldown_state *c, const char *key, int64_t def);
void cd_extra_set_i64(struct cooldown_state *c, const char *key, int64_t v);
/* The tablet's policy: ttl and datetime (0 = unset). */
void cd_policy_times(const struct cooldown_state *c, int64_t *ttl_s, int64_t *datetime_s);
void cd_note_retired(struct cooldown *cd, const struct version *old, struct version *nv);
size_t cd_remote_prefix(const struct version *v);
int cd_upload_files(struct cooldown *cd, struct objstore *os, char **keys, char **paths, const uint64_t *sizes,
                    size_t n, struct err *e);

/* Publishing a change of the uploader's remote rowsets (cd_publish_on_worker's argument). */
struct publish_arg {
    struct cooldown *cd;
    struct resource *res;
    int64_t term;
    const char *expect_meta_id;   /* the meta id the slow part assumed */
    /* uploads: replace rowsets [from, from + n) (ids in src_ids) by with[] */
    size_t from, n;
    char (*src_ids)[UUID_STR_LEN];
    struct rowset **with;
    size_t nwith;
    bool mark_published;
    const char *fault_after_meta;
    bool meta_attempted;          /* out: the meta PUT was issued (it may exist even on error) */
};
/*
 * On the worker: checks that term, meta id and the replaced rowsets are
 * unchanged, writes the remote meta for the new remote prefix, then
 * installs the local meta (intents cleared, retired rowsets noted).
 */
int cd_publish_on_worker(struct tablet *t, void *arg, struct err *e);

#endif
