/*
 * file_cache: remote object bytes cached on local disk in fixed-size blocks.
 *
 * Block i of an object covers bytes [i * block_size, (i + 1) * block_size)
 * (the last block is shorter). Each block is one file under the cache
 * directory holding a header (the cache id of the object, the object size,
 * a crc32c per 16 KiB chunk and a header crc) and the bytes.
 *
 * Guarantees:
 * - Bytes served are the object's bytes: every chunk is checked against
 *   its crc32c the first time this process reads it (after that only the
 *   bytes asked for are read: the segment pages carry their own crc32c,
 *   checked by the segment reader on every read); a corrupt or truncated
 *   block file is dropped and fetched again, never served.
 * - One downloader per block: a reader that finds a block being fetched
 *   waits for it instead of issuing its own GET.
 * - Misses that are adjacent (within one read, or across the ranges given
 *   to a prefetch) are fetched with one ranged GET per run of blocks.
 * - Object sizes come from the caller (the rowset meta); the cache never
 *   issues a HEAD.
 * - The bytes of complete blocks stay under capacity (least recently used
 *   blocks are evicted first). A block being fetched is not counted until
 *   it is complete.
 * - The cache survives a restart: open rebuilds the index from the block
 *   files (newest files are the most recently used), dropping temp files
 *   and files whose header is bad.
 *
 * A cache id names an object in the cache. Objects are immutable (floe
 * never rewrites a segment object under the same key), so an id never
 * needs invalidation; callers use "{resource id}/{object key}".
 *
 * Thread-safe. Counters also go to the process metrics
 * (floe_file_cache_*).
 */
#ifndef FLOE_BE_FILE_CACHE_H
#define FLOE_BE_FILE_CACHE_H

#include "io_source.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct objstore;
struct file_cache;

#define FILE_CACHE_CHUNK (16u * 1024u)   /* crc32c granularity inside a block */
#define FILE_CACHE_MIN_BLOCK (16u * 1024u)
#define FILE_CACHE_MAX_BLOCK (64u * 1024u * 1024u)

struct file_cache_opts {
    const char *dir;            /* created if missing */
    uint64_t capacity_bytes;    /* bound on cached bytes; >= one block */
    uint32_t block_size;        /* multiple of 16 KiB in [MIN_BLOCK, MAX_BLOCK] */
    uint64_t max_run_bytes;     /* at most this many bytes per GET; 0 = 64 MiB */
};

struct file_cache_stats {
    uint64_t hits;              /* blocks served from disk */
    uint64_t misses;            /* blocks fetched */
    uint64_t waits;             /* blocks another reader was fetching */
    uint64_t bytes_fetched;     /* bytes received from the object store */
    uint64_t gets;              /* ranged GETs issued */
    uint64_t evictions;
    uint64_t corrupt;           /* block files found bad and dropped */
    uint64_t used_bytes;        /* bytes of complete blocks now */
    uint64_t nblocks;
};

/* FLOE_ECONFIG naming the option for a bad directory, capacity or block size. */
int file_cache_open(const struct file_cache_opts *o, struct file_cache **ret, struct err *e);
/* No read may be in flight. Accepts NULL. */
void file_cache_close(struct file_cache *c);

/*
 * Reads bytes [off, off + len) of the object (cache id `id`, object `key` of
 * os, obj_size bytes) into out, through the cache. A range past obj_size is
 * FLOE_ECORRUPT.
 */
int file_cache_read(struct file_cache *c, struct objstore *os, const char *id, const char *key, uint64_t obj_size,
                    uint64_t off, size_t len, void *out, struct err *e);
/* Fetches the blocks of these ranges that are not cached, coalescing adjacent blocks into one GET each. */
int file_cache_prefetch(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                        uint64_t obj_size, const struct io_range *ranges, size_t n, struct err *e);

/*
 * An io_source over the object through the cache (read_at and prefetch).
 * os and c are borrowed and must outlive the source.
 */
int file_cache_open_source(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                           uint64_t obj_size, struct io_source **ret, struct err *e);

void file_cache_stats_get(struct file_cache *c, struct file_cache_stats *ret);
/* Path of the block file of (id, block) into a new string; for tests that damage blocks. */
char *file_cache_block_path(struct file_cache *c, const char *id, uint64_t block);
uint32_t file_cache_block_size(const struct file_cache *c);

#endif
