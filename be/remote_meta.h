/*
 * remote_meta: the remote meta a cooldown replica publishes for a tablet,
 * and the object keys of the remote layout (DESIGN.md §3):
 *
 *   data/{tablet_id}/{rowset_id}_{segment}.dat     segment objects
 *   data/{tablet_id}/{replica_id}.{term}.meta      remote metas (JSON)
 *
 * A remote meta names the tablet, the writer (replica id, term), a fresh
 * cooldown_meta_id per write, and the remote rowsets: contiguous version
 * ranges from version 0 up to cooldowned_version, each with its segment
 * sizes and row counts (so readers never need a HEAD).
 *
 * Decoding is strict: any field missing, of the wrong type, out of range,
 * a wrong tablet id, rowsets that are not contiguous from 0, duplicate
 * rowset ids, or a cooldowned_version that disagrees with the rowsets is
 * FLOE_ECORRUPT with one line naming the object, and *ret stays empty.
 */
#ifndef FLOE_BE_REMOTE_META_H
#define FLOE_BE_REMOTE_META_H

#include "buf.h"
#include "rowset.h"
#include "uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define REMOTE_META_FORMAT 1
#define REMOTE_META_MAX_BYTES (64u << 20)

struct remote_meta {
    int64_t tablet_id;
    int64_t replica_id;              /* the writer */
    int64_t term;                    /* the writer's cooldown term, >= 1 */
    char cooldown_meta_id[UUID_STR_LEN];
    int64_t cooldowned_version;      /* end of the last rowset, -1 when there is none */
    size_t nrowsets;
    struct rowset **rowsets;         /* referenced; resource_id set; sorted, contiguous from 0 */
};

/* Zeroes m (no rowsets, cooldowned_version -1). */
void remote_meta_init(struct remote_meta *m);
/* Drops the rowset references and frees the array; m is re-initialised. Accepts NULL. */
void remote_meta_release(struct remote_meta *m);
/* Appends a rowset (a new reference is taken) and updates cooldowned_version. */
void remote_meta_add_rowset(struct remote_meta *m, struct rowset *rs);

/* Validates m (same rules as decode) and appends its JSON to out. */
int remote_meta_encode(const struct remote_meta *m, struct buf *out, struct err *e);
/*
 * Parses and validates text. ctx names the object in messages (its key).
 * expect_tablet_id must match the meta's tablet id. The rowsets get
 * resource_id as their location. On error *ret is empty (initialised).
 */
int remote_meta_decode(const char *text, size_t len, const char *ctx, int64_t expect_tablet_id,
                       const char *resource_id, struct remote_meta *ret, struct err *e);

/* Keys (xasprintf'd, caller frees). */
char *remote_tablet_prefix(int64_t tablet_id);                          /* "data/{t}/" */
char *remote_meta_key(int64_t tablet_id, int64_t replica_id, int64_t term);
char *remote_segment_key(int64_t tablet_id, const char *rowset_id, int seg);

enum remote_key_kind { REMOTE_KEY_OTHER = 0, REMOTE_KEY_SEGMENT, REMOTE_KEY_META };
/*
 * Classifies a key under data/{tablet_id}/: a segment object (fills
 * rowset_id and seg) or a meta (fills replica_id and term). Keys of other
 * tablets or other shapes are REMOTE_KEY_OTHER. Out parameters may be NULL.
 */
enum remote_key_kind remote_key_parse(const char *key, int64_t tablet_id, char rowset_id[UUID_STR_LEN],
                                      int *ret_seg, int64_t *ret_replica_id, int64_t *ret_term);

#endif
