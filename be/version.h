/*
 * version: an immutable, reference-counted snapshot of a tablet's readable
 * state: schema, the rowsets covering versions [0, max_version] in order and
 * contiguous, and the cooldown state.
 *
 * A scan holds the snapshot it started with; compaction and cooldown build a
 * new snapshot (version_copy + edits) and install it through the tablet's
 * worker (tablet_install). A snapshot is never modified after install.
 */
#ifndef FLOE_BE_VERSION_H
#define FLOE_BE_VERSION_H

#include "rowset.h"
#include "schema.h"
#include "uuid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/*
 * Cooldown state persisted with the tablet meta. The engine only stores and
 * copies it; the cooldown code gives it meaning (DESIGN.md §3).
 */
struct cooldown_state {
    char *storage_policy;            /* policy name, NULL = none */
    char *resource_id;               /* resource of the policy, NULL = none */
    int64_t cooldown_replica_id;     /* -1 = none */
    int64_t cooldown_term;           /* 0 = never pushed */
    char cooldown_meta_id[UUID_STR_LEN];  /* "" = none */
    int64_t cooldowned_version;      /* -1 = nothing remote */
    char **upload_intents;           /* rowset ids about to be uploaded */
    size_t n_upload_intents;
    json_t *extra;                   /* object for further cooldown fields; never NULL */
};

struct version {
    int refs;                        /* atomic */
    int64_t tablet_id;
    struct schema *schema;
    int64_t max_version;             /* highest published version */
    size_t nrowsets;
    struct rowset **rowsets;         /* each referenced; sorted by start; contiguous */
    struct cooldown_state cd;
    /*
     * Stale rowsets: local rowsets compaction merged away, kept (referenced,
     * so their files stay) until stale_expire_ms[i] (wall clock) so a scan
     * at a version inside a merged range still finds rowsets covering
     * exactly [0, version]. Never cooled, never compacted, not persisted in
     * the tablet meta (a restart forgets them and the restart sweep deletes
     * their files).
     */
    size_t nstale;
    struct rowset **stale;
    int64_t *stale_expire_ms;
};

/* A snapshot with no rowsets and an empty cooldown state (refs = 1); schema is referenced. */
struct version *version_new(int64_t tablet_id, struct schema *schema, int64_t max_version);
/* A mutable copy (refs = 1) sharing the rowsets (referenced) and schema; cooldown state duplicated. */
struct version *version_copy(const struct version *v);
struct version *version_ref(struct version *v);
/* Accepts NULL. */
void version_unref(struct version *v);

/* Appends a rowset (takes a new reference). */
void version_add_rowset(struct version *v, struct rowset *rs);
/*
 * Replaces rowsets [from, from + count) by with[0..nwith) (new references
 * taken; the replaced ones are unreferenced). Only on an uninstalled copy.
 */
void version_replace_rowsets(struct version *v, size_t from, size_t count, struct rowset *const *with, size_t nwith);
/* Keeps rs (a new reference) as stale until expire_ms. Only on an uninstalled copy. */
void version_add_stale(struct version *v, struct rowset *rs, int64_t expire_ms);
/* Drops (unreferences) the stale rowsets whose expiry is <= now_ms; returns how many. Only on an uninstalled copy. */
size_t version_drop_expired_stale(struct version *v, int64_t now_ms);
/* True when v lists rowset id among its stale rowsets. */
bool version_has_stale(const struct version *v, const char *rowset_id);
/*
 * The rowsets that make up version `at` (<= max_version): from version 0,
 * repeatedly the current or stale rowset starting at the next version with
 * the largest end <= at, oldest first, borrowed from v (*ret malloc'd).
 * FLOE_EVERSION when no such chain exists (the version was merged away and
 * its stale rowsets expired, or at > max_version).
 */
int version_pick_rowsets(const struct version *v, int64_t at, struct rowset ***ret, size_t *ret_n, struct err *e);
/*
 * The storage policy's cooldown ttl and datetime (seconds, 0 = unset) as
 * the cooldown code stores them in cd->extra (at the top level, or under
 * "policy" for tablets created with one).
 */
void cooldown_state_policy_times(const struct cooldown_state *cd, int64_t *ret_ttl_s, int64_t *ret_datetime_s);
/* Index of the rowset with this id, or -1. */
ssize_t version_find_rowset(const struct version *v, const char *rowset_id);
/* Checks order and contiguity from 0 to max_version; FLOE_ECORRUPT otherwise. */
int version_check(const struct version *v, struct err *e);

void cooldown_state_init(struct cooldown_state *cd);
void cooldown_state_release(struct cooldown_state *cd);
void cooldown_state_copy(struct cooldown_state *dst, const struct cooldown_state *src);
/* Replaces the upload intents (strings copied). */
void cooldown_state_set_intents(struct cooldown_state *cd, const char *const *ids, size_t n);
json_t *cooldown_state_to_json(const struct cooldown_state *cd);
int cooldown_state_from_json(const json_t *j, struct cooldown_state *cd, const char *ctx, struct err *e);

#endif
