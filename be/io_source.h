/*
 * io_source: positional reads from a segment's bytes, wherever they live.
 *
 * The segment reader sees only this interface: a local file now, a remote
 * object read through the file cache later. The size is known up front (a
 * rowset meta records every segment's size, so a remote reader never needs a
 * HEAD). A source may implement prefetch: the reader announces the byte
 * ranges it is about to read (already sorted and coalesced) so a remote
 * source can fetch them in as few requests as possible.
 */
#ifndef FLOE_BE_IO_SOURCE_H
#define FLOE_BE_IO_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct err;

struct io_range {
    uint64_t off;
    uint64_t len;
};

struct io_source;

struct io_source_ops {
    /* Reads exactly len bytes at off into out. A read past size is FLOE_ECORRUPT. */
    int (*read_at)(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e);
    /* Optional: a hint that these ranges are read next. NULL = no-op. */
    int (*prefetch)(struct io_source *s, const struct io_range *ranges, size_t n, struct err *e);
    /* Frees the source. */
    void (*close)(struct io_source *s);
    /*
     * Optional: the reader found bytes read from this source damaged (bad
     * checksum, bad trailer). A caching source forgets what it cached of
     * the object, so a repaired object is read afresh. NULL = no-op.
     */
    void (*damaged)(struct io_source *s);
};

struct io_source {
    const struct io_source_ops *ops;
    char *name;        /* for messages: a path or an object key; owned, freed by close */
    uint64_t size;     /* total bytes */
};

static inline int io_source_read_at(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    return s->ops->read_at(s, off, len, out, e);
}
int io_source_prefetch(struct io_source *s, const struct io_range *ranges, size_t n, struct err *e);
/* Accepts NULL. */
void io_source_close(struct io_source *s);
/* Tells the source its bytes failed a check (see damaged above). Accepts NULL. */
void io_source_damaged(struct io_source *s);

/*
 * A local file. size 0 = take it from fstat; otherwise the file must be at
 * least that large (a shorter file is FLOE_ECORRUPT: truncated).
 */
int io_source_open_file(const char *path, uint64_t size, struct io_source **ret, struct err *e);
/* Bytes in memory (borrowed, must outlive the source); for tests and fuzzing. */
int io_source_open_mem(const void *data, size_t len, const char *name, struct io_source **ret);

/*
 * Sorts ranges by offset and merges those that overlap or lie within gap
 * bytes of each other. Returns the new count (in place).
 */
size_t io_range_coalesce(struct io_range *r, size_t n, uint64_t gap);

#endif
