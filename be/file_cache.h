/*
 * file_cache: remote object bytes cached on local disk in fixed-size blocks.
 *
 * Block i of an object covers bytes [i * block_size, (i + 1) * block_size)
 * (the last block is shorter). A block holds one valid extent: the bytes
 * of the block some read or prefetch wanted, not necessarily all of it.
 * Each block is one file under the cache directory holding a header (the
 * cache id of the object, the object size, the extent, a crc32c per
 * 16 KiB chunk of the block's grid that the extent touches, and a header
 * crc) and the extent's bytes.
 *
 * Guarantees:
 * - Only bytes wanted are fetched: a miss fetches the wanted part of each
 *   block, not the whole block. A later read outside a block's extent
 *   fetches what is missing (plus the gap to the extent: one extent per
 *   block; all of the wanted bytes when they reach past both ends of the
 *   extent) and replaces the block file with one of the union.
 * - Bytes served are the object's bytes: every chunk is checked against
 *   its crc32c the first time this process reads it (after that only the
 *   bytes asked for are read: the segment pages carry their own crc32c,
 *   checked by the segment reader on every read), and the old bytes of a
 *   block are checked before an extension keeps them; a corrupt or
 *   truncated block file is dropped and fetched again, never served.
 * - One downloader per block: a reader that needs bytes of a block being
 *   fetched or extended waits for it instead of issuing its own GET
 *   (bytes already in the extent are served meanwhile).
 * - Missing bytes that continue each other across blocks (within one read,
 *   or across the ranges given to a prefetch) are fetched with one ranged
 *   GET per run.
 * - Object sizes come from the caller (the rowset meta); the cache never
 *   issues a HEAD.
 * - The valid bytes of complete blocks stay under capacity (least recently
 *   used blocks are evicted first). A block being fetched is not counted
 *   until it is complete; one being extended is not evicted meanwhile.
 * - The cache survives a restart: open rebuilds the index from the block
 *   files (newest files are the most recently used), dropping temp files
 *   and files whose header is bad or whose extent does not fit the object.
 *
 * A cache id names an object in the cache. Objects are immutable (floe
 * never rewrites a segment object under the same key), so an id never
 * needs invalidation; callers use "{resource id}/{object key}".
 *
 * Thread-safe. Counters also go to the process metrics
 * (floe_file_cache_*). Fault points: "file_cache.fetch" (each GET),
 * "file_cache.write" (each block file written; the read is still served).
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
    uint64_t hits;              /* block reads served from disk */
    uint64_t misses;            /* block pieces fetched */
    uint64_t waits;             /* blocks another reader was fetching */
    uint64_t bytes_fetched;     /* bytes received from the object store */
    uint64_t gets;              /* ranged GETs issued */
    uint64_t evictions;
    uint64_t corrupt;           /* block files found bad and dropped (or cut to the new bytes) */
    uint64_t used_bytes;        /* valid bytes of complete blocks now */
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
/*
 * Fetches the bytes of these ranges that are not cached (per block, the
 * hull of what the ranges want of it), one GET per run of missing bytes
 * that continue each other. Blocks another thread is fetching are skipped.
 */
int file_cache_prefetch(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                        uint64_t obj_size, const struct io_range *ranges, size_t n, struct err *e);

/*
 * An io_source over the object through the cache (read_at and prefetch).
 * os and c are borrowed and must outlive the source.
 */
int file_cache_open_source(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                           uint64_t obj_size, struct io_source **ret, struct err *e);

void file_cache_stats_get(struct file_cache *c, struct file_cache_stats *ret);
/*
 * Drops the cached blocks of the object (cache id `id`, obj_size bytes),
 * except blocks a reader is fetching or extending right now. Called when a
 * reader found the object's bytes damaged, so a repaired object is fetched
 * again. Returns the number of blocks dropped.
 */
uint64_t file_cache_forget(struct file_cache *c, const char *id, uint64_t obj_size);
/* Path of the block file of (id, block) into a new string; for tests that damage blocks. */
char *file_cache_block_path(struct file_cache *c, const char *id, uint64_t block);
uint32_t file_cache_block_size(const struct file_cache *c);

#endif
