/*
 * cooldown: moving cold rowsets of a tablet to an object store, with one
 * uploader per tablet (the cooldown replica of the newest term) and every
 * other replica following the uploader's remote meta (DESIGN.md §3).
 *
 * Per tablet the persistent state lives in the tablet meta (struct
 * cooldown_state): storage policy and resource, cooldown_replica_id and
 * cooldown_term as pushed by the FE, cooldown_meta_id and
 * cooldowned_version of the remote meta followed, upload intents, and in
 * `extra`: the policy's ttl/datetime, the term this replica last published a
 * meta under ("published_term") and the remote rowsets it retired with the
 * time it retired them ("retired", for the GC grace).
 *
 * Guarantees (the invariants of DESIGN.md §5):
 * - A conf is accepted only for a strictly higher term, and is applied on
 *   the tablet's worker; the uploader writes its remote meta on that worker
 *   after checking the term, so an upload begun under an old term never
 *   publishes once a newer term arrived.
 * - The uploader writes only data/{t}/{rowset}_{seg}.dat objects under fresh
 *   rowset ids and data/{t}/{its replica}.{its term}.meta; a follower never
 *   writes to the object store.
 * - Local files are deleted only after the meta that replaces them is
 *   durable, and only when no snapshot uses them (engine retire).
 * - An object is deleted only when the FE confirmed the delete_id it was
 *   reported under, and it is still unreferenced at that moment.
 * - A new uploader adopts the newest earlier-term meta; when it cannot as is
 *   (its own compaction ran across the meta's last version, or it holds
 *   remote rowsets beyond it) it re-cuts: keeps the longest prefix of that
 *   meta ending on one of its rowset boundaries plus its own rowsets above,
 *   and publishes that. Only when it holds every version the meta covers;
 *   otherwise it waits. The cut rowsets are left to the delete handshake.
 *
 * Fault points: cooldown.intent, cooldown.upload, cooldown.after_upload,
 * cooldown.meta_write, cooldown.after_meta_write, cooldown.local_swap,
 * cooldown.after_swap, cooldown.follow, cooldown.follow.after_swap,
 * cooldown.adopt, cooldown.recut, cooldown.recut.after_meta_write,
 * cooldown.cold_compaction.after_upload,
 * cooldown.cold_compaction.meta_write, cooldown.gc.delete,
 * cooldown.gc.after_delete, cooldown.conf.
 */
#ifndef FLOE_BE_COOLDOWN_H
#define FLOE_BE_COOLDOWN_H

#include "uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct err;
struct file_cache;
struct resource_registry;
struct cooldown;

struct cooldown_opts {
    int64_t check_interval_ms;      /* cooldown_check_interval_s: period of the background pass */
    int64_t gc_grace_ms;            /* remote_gc_grace_s */
    int64_t gc_interval_ms;         /* remote_gc_interval_s: how often the pass prepares a GC round */
    int upload_threads;             /* parallel segment uploads */
    int cold_compaction_min_rowsets;/* the uploader merges its remote rowsets above this many; 0 = never */
    bool background;                /* run the periodic pass thread */
};

/* 60 s, 1800 s grace, GC every 600 s, 4 upload threads, 10 rowsets, background on. */
void cooldown_opts_default(struct cooldown_opts *o);

/*
 * Sets up cooldown for the engine: registers the remote segment opener
 * (reads go through cache) and the compaction filter, and starts the
 * background pass when o->background. eng, res and cache are borrowed and
 * must outlive the cooldown. Close it before the engine.
 */
int cooldown_open(struct engine *eng, struct resource_registry *res, struct file_cache *cache,
                  const struct cooldown_opts *o, struct cooldown **ret, struct err *e);
/* Stops the pass (waits for a running step). Accepts NULL. */
void cooldown_close(struct cooldown *cd);

/*
 * Gives a tablet its storage policy: policy name, resource name, ttl or
 * datetime (0 = unset). Persisted in the tablet meta. Changing the resource
 * of a tablet that already has remote rowsets is FLOE_EBADSTATE.
 */
int cooldown_set_policy(struct cooldown *cd, int64_t tablet_id, const char *policy, const char *resource,
                        int64_t ttl_s, int64_t datetime_s, struct err *e);

/* FLOE_ESTALE_TERM unless term is strictly higher than the tablet's. replica_id 0 = none. */
int cooldown_push_conf(struct cooldown *cd, int64_t tablet_id, int64_t cooldown_replica_id, int64_t term,
                       struct err *e);

enum cooldown_action {
    COOLDOWN_NONE = 0,       /* nothing to do (no policy, no conf, nothing cold, meta unchanged) */
    COOLDOWN_UPLOADED,       /* the uploader moved rowsets */
    COOLDOWN_PUBLISHED,      /* the uploader published its meta for a new term */
    COOLDOWN_ADOPTED,        /* a remote meta was adopted */
    COOLDOWN_WAITING,        /* the remote meta does not line up yet */
};

/*
 * One cooldown step of a tablet, as the background pass runs it: the
 * uploader recovers from a crash, adopts/publishes for a new term, then
 * uploads the cold prefix; a follower fetches (conditionally) and adopts the
 * uploader's meta. ret_action (may be NULL) says what happened.
 */
int cooldown_tablet_step(struct cooldown *cd, int64_t tablet_id, enum cooldown_action *ret_action, struct err *e);
/* Steps every tablet, then cold compaction and GC preparation on tablets this BE uploads. */
void cooldown_pass(struct cooldown *cd);

/* Cold compaction on the uploader: merge its remote rowsets when there are at least min_rowsets (>= 2). */
int cooldown_cold_compact(struct cooldown *cd, int64_t tablet_id, int min_rowsets, bool *ret_done, struct err *e);

/*
 * GC, uploader side: list data/{tablet}/ and cache the unreferenced objects
 * older than the grace under a fresh delete_id (0 when there is none).
 */
int cooldown_gc_prepare(struct cooldown *cd, int64_t tablet_id, int64_t *ret_delete_id, size_t *ret_ncand,
                        struct err *e);
/*
 * The FE confirmed delete_id: delete the cached candidates (batched) if the
 * id still matches and each is still unreferenced. *ret_accepted false when
 * the id does not match (nothing is deleted).
 */
int cooldown_delete(struct cooldown *cd, int64_t tablet_id, int64_t delete_id, bool *ret_accepted,
                    uint64_t *ret_deleted, struct err *e);

struct cooldown_report {
    int64_t cooldown_replica_id;
    int64_t cooldown_term;
    char cooldown_meta_id[UUID_STR_LEN];
    int64_t cooldowned_version;
    int64_t delete_id;                /* 0 = none */
    uint64_t delete_candidates;
    uint64_t remote_bytes;
    char storage_policy[128];
};
/* What the tablet report carries about cooldown. */
int cooldown_tablet_report(struct cooldown *cd, int64_t tablet_id, struct cooldown_report *ret, struct err *e);

/*
 * Drops the tablet from the engine; when last_replica, also deletes every
 * object under data/{tablet}/ of its resource.
 */
int cooldown_drop_tablet(struct cooldown *cd, int64_t tablet_id, bool last_replica, struct err *e);

struct cooldown_stats {
    uint64_t uploaded_bytes, uploaded_objects, metas_written;
    uint64_t follows_adopted, follows_refused, follows_not_modified;
    uint64_t gc_candidates, gc_deleted;
    uint64_t cold_compactions;
    uint64_t recuts;                 /* earlier metas re-cut by a new uploader */
    uint64_t upload_failures;
};
void cooldown_stats_get(struct cooldown *cd, struct cooldown_stats *ret);

#endif
