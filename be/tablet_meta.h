/*
 * tablet_meta: a tablet's one durable truth, a JSON file replaced
 * atomically (common/fsutil: temp file, fsync, rename, fsync dir).
 *
 * It holds the tablet id, the replica id the FE gave this copy, the schema,
 * the published version, every rowset with its location, the cooldown state,
 * committed-but-unpublished transactions (their rowsets, so a publish after a
 * restart still works) and the most recent published txn ids (so publishing
 * the same txn again is recognised as done). Staged, uncommitted writes are
 * not in the meta: a restart drops them and sweeps their files.
 */
#ifndef FLOE_BE_TABLET_META_H
#define FLOE_BE_TABLET_META_H

#include "buf.h"
#include "version.h"

#include <stddef.h>
#include <stdint.h>

struct err;

#define TABLET_META_FORMAT 1
#define TABLET_META_MAX_BYTES (256u << 20)
#define TABLET_META_KEEP_PUBLISHED 1024

struct txn_entry {
    int64_t txn_id;
    struct rowset *rs;      /* referenced; start = end = -1 */
};

struct pub_entry {
    int64_t txn_id;
    int64_t version;
};

struct tablet_meta {
    int64_t tablet_id;
    int64_t replica_id;
    struct version *v;      /* referenced */
    struct txn_entry *txns;
    size_t ntxns;
    struct pub_entry *pubs; /* oldest first */
    size_t npubs;
};

int tablet_meta_encode(const struct tablet_meta *m, struct buf *out, struct err *e);
/* Atomic replace. Fault point "meta.save" before anything is written. */
int tablet_meta_save(const char *path, const struct tablet_meta *m, struct err *e);
/*
 * Loads and validates (schema, contiguous rowsets, ids). The file's tablet id
 * must equal expect_id. Local rowsets get local_dir. FLOE_ECORRUPT naming the
 * file otherwise; ret is then empty.
 */
int tablet_meta_load(const char *path, int64_t expect_id, const char *local_dir, struct tablet_meta *ret,
                     struct err *e);
int tablet_meta_decode(const char *text, size_t len, const char *ctx, int64_t expect_id, const char *local_dir,
                       struct tablet_meta *ret, struct err *e);
/* Frees the arrays and drops the references. Accepts a zeroed struct. */
void tablet_meta_release(struct tablet_meta *m);

#endif
