/*
 * rowset: the data of one version range [start, end] of a tablet: 0..n
 * immutable segment files, their sizes and row counts, the newest write
 * time and where the segments live (local disk, or a resource id once
 * cooled down). Rowset ids are fresh uuids, so a rowset's files never clash
 * with any other's, locally or remotely.
 *
 * Local segment i of rowset R lives at {tablet data dir}/{R}_{i}.dat (the
 * same name as the remote object data/{tablet_id}/{R}_{i}.dat).
 *
 * A rowset is immutable and reference counted (every version snapshot that
 * lists it holds a reference). rowset_retire() marks it as no longer in the
 * tablet's durable meta; its local files are deleted when the last
 * reference goes, so a running scan never loses a file.
 */
#ifndef FLOE_BE_ROWSET_H
#define FLOE_BE_ROWSET_H

#include "io_source.h"
#include "uuid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;

struct rowset_segment {
    uint64_t size;   /* bytes of the segment file / object */
    uint64_t rows;
};

struct rowset {
    int refs;                    /* atomic */
    char id[UUID_STR_LEN];
    int64_t tablet_id;
    int64_t start, end;          /* version range, inclusive; -1 while staged in a txn */
    int nsegs;
    struct rowset_segment *segs;
    uint64_t num_rows;
    uint64_t data_size;          /* sum of segment sizes */
    int64_t newest_write_ms;     /* wall clock of the newest row written */
    int64_t oldest_write_ms;     /* ...of the oldest (<= newest; = newest when unknown, e.g. remote rowsets);
                                    set by the creator before the rowset is shared */
    char *resource_id;           /* NULL = local */
    char *local_dir;             /* the tablet's data dir (for local files) */
    int retired;                 /* atomic flag */
};

/* A new rowset (refs = 1). segs copied; resource_id/local_dir copied (may be NULL). */
struct rowset *rowset_new(const char *id, int64_t tablet_id, int64_t start, int64_t end,
                          const struct rowset_segment *segs, int nsegs, int64_t newest_write_ms,
                          const char *resource_id, const char *local_dir);
/* Same content (and write times) with a different version range or location (refs = 1). */
struct rowset *rowset_clone(const struct rowset *rs, int64_t start, int64_t end, const char *resource_id);
struct rowset *rowset_ref(struct rowset *rs);
/* At zero: if retired and local, deletes the segment files (fault point "file.delete"). */
void rowset_unref(struct rowset *rs);
void rowset_retire(struct rowset *rs);
static inline bool rowset_is_local(const struct rowset *rs) { return rs->resource_id == NULL; }

/* Path of local segment i into out (xasprintf'd). */
char *rowset_segment_path(const struct rowset *rs, int seg);
/* "{rowset_id}_{seg}.dat" */
char *rowset_segment_name(const char *rowset_id, int seg);
/* Parses a segment file name; false when it is not one. */
bool rowset_parse_segment_name(const char *name, char id[UUID_STR_LEN], int *ret_seg);

/*
 * Opens segment i for reading: a local file, or through the remote opener
 * registered by the cooldown code for rowsets with a resource id
 * (FLOE_EUNSUPPORTED when none is registered).
 */
int rowset_open_segment(const struct rowset *rs, int seg, struct io_source **ret, struct err *e);
typedef int (*rowset_remote_open_cb)(void *ctx, const struct rowset *rs, int seg, struct io_source **ret,
                                     struct err *e);
void rowset_set_remote_opener(rowset_remote_open_cb cb, void *ctx);

/* Deletes local segment files now (txn abort, failed writes). Errors are logged. */
void rowset_delete_local_files(const char *dir, const char *rowset_id, int nsegs);

json_t *rowset_to_json(const struct rowset *rs);
int rowset_from_json(const json_t *j, int64_t tablet_id, const char *local_dir, struct rowset **ret,
                     const char *ctx, struct err *e);

#endif
