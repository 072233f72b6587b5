/*
 * file_cache: block files on local disk, an in-memory index (hash table +
 * LRU list) guarded by one mutex, single-flight through a LOADING state (a
 * missing block being fetched) or the extending flag (a READY block whose
 * extent is being grown) and a condition variable.
 *
 * Invariants: an entry is LOADING (owned by exactly one fetching thread, not
 * in the LRU, not counted in used) or READY (file complete, in the LRU,
 * counted by its extent). A READY entry with extending set is owned by one
 * fetching thread for its growth: nobody else replaces, drops or evicts it;
 * readers keep reading its current extent. Block files are renamed into
 * place and unlinked only under the mutex, and a reader opens the file
 * under the mutex together with copying the entry's layout, so the file it
 * reads always matches what it copied (a file replaced or evicted after
 * that only loses its name).
 */
#define LOG_MODULE "file_cache"
#include "file_cache.h"

#include "buf.h"
#include "crc32c.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_MAGIC 0x42434c46u /* "FLCB" */
#define FC_VERSION 3u
#define FC_HDR 40u
#define FC_ID_MAX 2048u
#define FC_SRC_FDS 16          /* block files an io_source keeps open */

enum { FC_LOADING = 1, FC_READY = 2 };

/*
 * A block's valid extent is [vlo, vhi) in block coordinates: only those
 * bytes are on disk (the file holds them from data_off on). Chunk k of the
 * block's 16 KiB grid covers [k * CHUNK, (k + 1) * CHUNK) clipped to the
 * extent; the file keeps one crc per chunk the extent touches.
 */
struct fc_entry {
    uint8_t h[16];
    uint64_t blk;
    int state;
    bool extending;        /* READY: one thread is fetching more of it (not evictable) */
    uint32_t vlo, vhi;     /* READY: valid extent */
    uint32_t data_off;     /* where data starts in the file */
    uint64_t obj_size;     /* of the object, as recorded in the block file */
    int64_t mtime;         /* for ordering at rebuild */
    uint64_t gen;          /* changes whenever the file is replaced */
    uint64_t *verified;    /* READY: bit per chunk of the grid whose crc this process has checked */
    struct fc_entry *hnext;
    struct fc_entry *prev, *next; /* LRU, head = most recent */
};

struct file_cache {
    char *dir;
    uint64_t capacity;
    uint32_t bs;
    uint64_t max_run;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct fc_entry **tab;
    size_t nbuckets;
    struct fc_entry *head, *tail;
    struct file_cache_stats st;
    unsigned tmp_seq;
    uint64_t next_gen;
};

static struct metric *m_hits, *m_misses, *m_bytes, *m_evict, *m_corrupt, *m_used, *m_gets;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_setup(void)
{
    m_hits = metrics_counter("floe_file_cache_hits_total", "File cache blocks served from local disk");
    m_misses = metrics_counter("floe_file_cache_misses_total", "File cache blocks fetched from the object store");
    m_bytes = metrics_counter("floe_file_cache_fetched_bytes_total", "Bytes the file cache fetched");
    m_gets = metrics_counter("floe_file_cache_gets_total", "Ranged GETs the file cache issued");
    m_evict = metrics_counter("floe_file_cache_evictions_total", "File cache blocks evicted");
    m_corrupt = metrics_counter("floe_file_cache_corrupt_blocks_total", "File cache blocks found corrupt and refetched");
    m_used = metrics_gauge("floe_file_cache_bytes", "Bytes held by the file cache");
}

static void hash_id(const char *id, uint8_t out[16])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)id, strlen(id), d);
    memcpy(out, d, 16);
}

static size_t bucket(const struct file_cache *c, const uint8_t h[16], uint64_t blk)
{
    uint64_t x;
    memcpy(&x, h, 8);
    x ^= blk * 0x9e3779b97f4a7c15ull;
    return (size_t)(x & (c->nbuckets - 1));
}

static struct fc_entry *lookup(struct file_cache *c, const uint8_t h[16], uint64_t blk)
{
    for (struct fc_entry *en = c->tab[bucket(c, h, blk)]; en; en = en->hnext)
        if (en->blk == blk && memcmp(en->h, h, 16) == 0)
            return en;
    return NULL;
}

static void tab_insert(struct file_cache *c, struct fc_entry *en)
{
    size_t b = bucket(c, en->h, en->blk);
    en->hnext = c->tab[b];
    c->tab[b] = en;
}

static void tab_remove(struct file_cache *c, struct fc_entry *en)
{
    struct fc_entry **pp = &c->tab[bucket(c, en->h, en->blk)];
    while (*pp && *pp != en)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = en->hnext;
}

static void lru_unlink(struct file_cache *c, struct fc_entry *en)
{
    if (en->prev)
        en->prev->next = en->next;
    else if (c->head == en)
        c->head = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else if (c->tail == en)
        c->tail = en->prev;
    en->prev = en->next = NULL;
}

static void lru_push_head(struct file_cache *c, struct fc_entry *en)
{
    en->prev = NULL;
    en->next = c->head;
    if (c->head)
        c->head->prev = en;
    c->head = en;
    if (!c->tail)
        c->tail = en;
}

static void hex(const uint8_t *h, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[2 * n] = 0;
}

static char *entry_path(const struct file_cache *c, const uint8_t h[16], uint64_t blk)
{
    char hx[33];
    hex(h, 16, hx);
    return xasprintf("%s/%.2s/%s_%" PRIu64 ".blk", c->dir, hx, hx, blk);
}

char *file_cache_block_path(struct file_cache *c, const char *id, uint64_t block)
{
    uint8_t h[16];
    hash_id(id, h);
    return entry_path(c, h, block);
}

uint32_t file_cache_block_size(const struct file_cache *c) { return c->bs; }

static uint32_t nchunks(uint32_t vlo, uint32_t vhi) { return (vhi - 1) / FILE_CACHE_CHUNK - vlo / FILE_CACHE_CHUNK + 1; }

static uint64_t *new_verified(const struct file_cache *c)
{
    return xcalloc((c->bs / FILE_CACHE_CHUNK + 63) / 64, sizeof(uint64_t));
}

/* Under mu: drop a READY entry and its file. */
static void drop_ready(struct file_cache *c, struct fc_entry *en)
{
    char *p = entry_path(c, en->h, en->blk);
    unlink(p);
    free(p);
    lru_unlink(c, en);
    tab_remove(c, en);
    c->st.used_bytes -= en->vhi - en->vlo;
    c->st.nblocks--;
    free(en->verified);
    free(en);
}

/* Under mu: least recently used blocks go first; a block being extended is skipped. */
static void evict_to_capacity(struct file_cache *c)
{
    struct fc_entry *en = c->tail;
    while (c->st.used_bytes > c->capacity && en) {
        struct fc_entry *prev = en->prev;
        if (!en->extending) {
            drop_ready(c, en);
            c->st.evictions++;
            metrics_inc(m_evict);
        }
        en = prev;
    }
    metrics_set(m_used, (int64_t)c->st.used_bytes);
}

static uint32_t block_len(const struct file_cache *c, uint64_t obj_size, uint64_t blk)
{
    uint64_t start = blk * c->bs;
    uint64_t left = obj_size - start;
    return left < c->bs ? (uint32_t)left : c->bs;
}

/*
 * Header (FC_HDR bytes): magic, version, vlo, vlen, id_len, nchunks (u32
 * each), obj_size (u64), hdr_crc (u32: crc32c of the 32 bytes before it,
 * the id and the chunk crcs), 4 zero bytes; then the id, the chunk crcs and
 * the vlen data bytes of [vlo, vlo + vlen).
 *
 * Writes a temp file for the extent [vlo, vhi) whose bytes are data; the
 * caller renames it into place (under mu) or unlinks it.
 */
static int write_block(struct file_cache *c, const uint8_t h[16], uint64_t blk, const char *id, uint64_t obj_size,
                       const uint8_t *data, uint32_t vlo, uint32_t vhi, char **ret_tmp, uint32_t *ret_off)
{
    *ret_tmp = NULL;
    int r = FAULT_POINT("file_cache.write");
    if (r < 0)
        return r;
    uint32_t idlen = (uint32_t)strlen(id);
    uint32_t nc = nchunks(vlo, vhi);
    size_t hl = FC_HDR + idlen + 4u * nc;
    uint8_t *hdr = xcalloc(1, hl);
    put_u32le(hdr, FC_MAGIC);
    put_u32le(hdr + 4, FC_VERSION);
    put_u32le(hdr + 8, vlo);
    put_u32le(hdr + 12, vhi - vlo);
    put_u32le(hdr + 16, idlen);
    put_u32le(hdr + 20, nc);
    put_u64le(hdr + 24, obj_size);
    memcpy(hdr + FC_HDR, id, idlen);
    uint32_t k0 = vlo / FILE_CACHE_CHUNK;
    for (uint32_t i = 0; i < nc; i++) {
        uint32_t a = (k0 + i) * FILE_CACHE_CHUNK, b = a + FILE_CACHE_CHUNK;
        a = a < vlo ? vlo : a;
        b = b > vhi ? vhi : b;
        put_u32le(hdr + FC_HDR + idlen + 4u * i, crc32c(0, data + (a - vlo), b - a));
    }
    uint32_t hc = crc32c(0, hdr, 32);
    hc = crc32c(hc, hdr + FC_HDR, idlen + 4u * nc);
    put_u32le(hdr + 32, hc);

    char *p = entry_path(c, h, blk);
    pthread_mutex_lock(&c->mu);
    unsigned seq = c->tmp_seq++;
    pthread_mutex_unlock(&c->mu);
    char *tmp = xasprintf("%s.tmp.%d.%u", p, (int)getpid(), seq);
    char *sub = xstrndup(p, (size_t)(strrchr(p, '/') - p));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        mkdir(sub, 0755);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    /* the cache needs no fsync: a block torn by a crash fails its crc and is refetched */
    if ((r = fs_write_full(fd, hdr, hl)) < 0 || (r = fs_write_full(fd, data, vhi - vlo)) < 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    *ret_tmp = tmp;
    tmp = NULL;
    *ret_off = (uint32_t)hl;
out:
    free(hdr);
    free(p);
    free(tmp);
    free(sub);
    return r;
}

/* Scratch memory per thread: no allocation (and no fresh pages) per read. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    buf_release(p);
    free(p);
}

static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static uint8_t *scratch(size_t need)
{
    pthread_once(&scratch_once, scratch_key_init);
    struct buf *sb = pthread_getspecific(scratch_key);
    if (!sb) {
        sb = xcalloc(1, sizeof(*sb));
        pthread_setspecific(scratch_key, sb);
    }
    if (need > sb->cap)
        buf_grow(sb, need - sb->len);
    return (uint8_t *)sb->data;
}

/* What a reader needs of a READY entry, copied under mu. */
struct fc_view {
    uint32_t vlo, vhi, data_off, idlen;
};

/*
 * Reads block bytes [boff, boff + n) (inside the extent) from fd into out.
 * Unless checked, the crcs of the chunks touched are verified (whole chunks
 * are read for that). Returns 0, or FLOE_ECORRUPT.
 */
static int read_block(int fd, const struct fc_view *v, uint32_t boff, uint32_t n, uint8_t *out, bool checked)
{
    if (checked)
        return fs_pread_full(fd, out, n, (off_t)v->data_off + (boff - v->vlo)) < 0 ? FLOE_ECORRUPT : 0;
    uint32_t c0 = boff / FILE_CACHE_CHUNK, c1 = (boff + n - 1) / FILE_CACHE_CHUNK;
    uint32_t ncr = c1 - c0 + 1;
    uint32_t from = c0 * FILE_CACHE_CHUNK, to = (c1 + 1) * FILE_CACHE_CHUNK;
    from = from < v->vlo ? v->vlo : from;
    to = to > v->vhi ? v->vhi : to;
    bool direct = from == boff && to == boff + n;
    uint8_t *crcs = scratch(4u * ncr + (direct ? 0 : to - from));
    uint8_t *tmp = direct ? out : crcs + 4u * ncr;
    off_t crc_at = (off_t)(FC_HDR + v->idlen + 4u * (c0 - v->vlo / FILE_CACHE_CHUNK));
    if (fs_pread_full(fd, crcs, 4u * ncr, crc_at) < 0 ||
        fs_pread_full(fd, tmp, to - from, (off_t)v->data_off + (from - v->vlo)) < 0)
        return FLOE_ECORRUPT;
    for (uint32_t i = 0; i < ncr; i++) {
        uint32_t a = (c0 + i) * FILE_CACHE_CHUNK, b = a + FILE_CACHE_CHUNK;
        a = a < from ? from : a;
        b = b > to ? to : b;
        if (crc32c(0, tmp + (a - from), b - a) != get_u32le(crcs + 4 * i))
            return FLOE_ECORRUPT;
    }
    if (!direct)
        memcpy(out, tmp + (boff - from), n);
    return 0;
}

static void mark_verified(struct fc_entry *en, uint32_t boff, uint32_t n)
{
    for (uint32_t k = boff / FILE_CACHE_CHUNK; k <= (boff + n - 1) / FILE_CACHE_CHUNK; k++)
        en->verified[k / 64] |= 1ull << (k % 64);
}

static bool all_verified(const struct fc_entry *en, uint32_t boff, uint32_t n)
{
    for (uint32_t k = boff / FILE_CACHE_CHUNK; k <= (boff + n - 1) / FILE_CACHE_CHUNK; k++)
        if (!((en->verified[k / 64] >> (k % 64)) & 1))
            return false;
    return true;
}

/*
 * A piece of a fetch: block bytes [lo, hi) of block blk. new: the block was
 * missing and is claimed LOADING; otherwise it is READY and claimed for
 * extension (extending), and its extent grows to cover the piece.
 */
struct fc_piece {
    uint64_t blk;
    uint32_t lo, hi;
    bool is_new;
};

/* Under mu: claims block blk as LOADING. */
static struct fc_entry *claim(struct file_cache *c, const uint8_t h[16], uint64_t blk)
{
    struct fc_entry *en = xcalloc(1, sizeof(*en));
    memcpy(en->h, h, 16);
    en->blk = blk;
    en->state = FC_LOADING;
    tab_insert(c, en);
    return en;
}

enum plan { PLAN_HIT, PLAN_WAIT, PLAN_FETCH };

/*
 * Under mu: what to do for block bytes [lo, hi). PLAN_FETCH claims the
 * block (LOADING or extending) and fills *p with the bytes to fetch, which
 * always include lo (so a reader at lo is served by the fetch): the part
 * missing from the extent, plus any gap between the extent and [lo, hi) (a
 * block keeps one extent), or all of [lo, hi) when it reaches past both
 * ends of the extent.
 */
static enum plan plan_block(struct file_cache *c, const uint8_t h[16], uint64_t blk, uint32_t lo, uint32_t hi,
                            struct fc_piece *p)
{
    struct fc_entry *en = lookup(c, h, blk);
    if (!en) {
        claim(c, h, blk);
        *p = (struct fc_piece){ blk, lo, hi, true };
        return PLAN_FETCH;
    }
    if (en->state == FC_LOADING || en->extending)
        return en->state == FC_READY && en->vlo <= lo && hi <= en->vhi ? PLAN_HIT : PLAN_WAIT;
    if (en->vlo <= lo && hi <= en->vhi)
        return PLAN_HIT;
    en->extending = true;
    if (lo >= en->vlo)
        *p = (struct fc_piece){ blk, en->vhi, hi, false };
    else if (hi <= en->vhi)
        *p = (struct fc_piece){ blk, lo, en->vlo, false };
    else
        *p = (struct fc_piece){ blk, lo, hi, false };
    return PLAN_FETCH;
}

/* Under mu: a claim ends without a new file (the fetch failed). */
static void release_claim(struct file_cache *c, const uint8_t h[16], uint64_t blk)
{
    struct fc_entry *en = lookup(c, h, blk);
    if (en && en->state == FC_LOADING) {
        tab_remove(c, en);
        free(en);
    } else if (en) {
        en->extending = false;
    }
    pthread_cond_broadcast(&c->cond);
}

/*
 * Installs the fetched bytes of piece p (data = its bytes) and ends the
 * claim. An extension keeps the old extent's bytes (verified against their
 * crcs; when they fail, only the piece is kept) and writes a new file of
 * the union. Failures to write leave the block as it was (or missing).
 */
static void install_piece(struct file_cache *c, const char *id, const char *key, const uint8_t h[16],
                          uint64_t obj_size, const struct fc_piece *p, const uint8_t *data)
{
    uint32_t nlo = p->lo, nhi = p->hi;
    const uint8_t *bytes = data;
    uint8_t *merged = NULL;
    if (!p->is_new) {
        /* the entry is ours (extending): nobody else changes or drops it */
        pthread_mutex_lock(&c->mu);
        struct fc_entry *en = lookup(c, h, p->blk);
        struct fc_view v = { en->vlo, en->vhi, en->data_off, (uint32_t)strlen(id) };
        char *path = entry_path(c, h, p->blk);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        pthread_mutex_unlock(&c->mu);
        bool keep = !(p->lo <= v.vlo && v.vhi <= p->hi);
        if (keep) {
            uint32_t mlo = p->lo < v.vlo ? p->lo : v.vlo, mhi = p->hi > v.vhi ? p->hi : v.vhi;
            merged = xmalloc(mhi - mlo);
            if (fd >= 0 && read_block(fd, &v, v.vlo, v.vhi - v.vlo, merged + (v.vlo - mlo), false) == 0) {
                memcpy(merged + (p->lo - mlo), data, p->hi - p->lo);
                nlo = mlo;
                nhi = mhi;
                bytes = merged;
            } else {
                pthread_mutex_lock(&c->mu);
                c->st.corrupt++;
                pthread_mutex_unlock(&c->mu);
                metrics_inc(m_corrupt);
                log_warn("file cache: block %" PRIu64 " of %s failed its checksum; keeping only the new bytes",
                         p->blk, key);
            }
        }
        if (fd >= 0)
            close(fd);
    }
    char *tmp = NULL;
    uint32_t off = 0;
    int wr = write_block(c, h, p->blk, id, obj_size, bytes, nlo, nhi, &tmp, &off);
    if (wr < 0)
        log_warn("file cache: write block %" PRIu64 " of %s: %s", p->blk, key, err_str(wr));
    pthread_mutex_lock(&c->mu);
    struct fc_entry *en = lookup(c, h, p->blk);
    char *path = entry_path(c, h, p->blk);
    if (wr == 0 && rename(tmp, path) < 0) {
        wr = -errno;
        unlink(tmp);
        log_warn("file cache: rename block %" PRIu64 " of %s: %s", p->blk, key, err_str(wr));
    }
    if (wr < 0) {
        release_claim(c, h, p->blk);
    } else {
        if (en->state == FC_READY) {
            c->st.used_bytes -= en->vhi - en->vlo;
            lru_unlink(c, en);
            memset(en->verified, 0, (c->bs / FILE_CACHE_CHUNK + 63) / 64 * sizeof(uint64_t));
        } else {
            en->state = FC_READY;
            en->verified = new_verified(c);
            c->st.nblocks++;
        }
        en->extending = false;
        en->vlo = nlo;
        en->vhi = nhi;
        en->data_off = off;
        en->obj_size = obj_size;
        en->gen = ++c->next_gen;
        lru_push_head(c, en);
        c->st.used_bytes += nhi - nlo;
        evict_to_capacity(c);
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->mu);
    free(path);
    free(tmp);
    free(merged);
}

/* The object bytes [start, end) of a run of pieces. */
static uint64_t piece_start(const struct file_cache *c, const struct fc_piece *p) { return p->blk * c->bs + p->lo; }
static uint64_t piece_end(const struct file_cache *c, const struct fc_piece *p) { return p->blk * c->bs + p->hi; }

/*
 * Fetches pieces p[0..n) (claimed by the caller; each starts where the
 * previous ends in the object) with one GET and installs them. When out is
 * non-NULL, object bytes [want_off, want_off + want_len) (inside the run)
 * are copied to it, whether or not the blocks could be written. On error
 * every claim is released (waiters retry).
 */
static int fetch_run(struct file_cache *c, struct objstore *os, const char *id, const char *key, const uint8_t h[16],
                     uint64_t obj_size, const struct fc_piece *p, size_t n, uint64_t want_off, size_t want_len,
                     uint8_t *out, struct err *e)
{
    uint64_t start = piece_start(c, &p[0]), end = piece_end(c, &p[n - 1]);
    uint8_t *data = xmalloc(end - start ? end - start : 1);
    int r = FAULT_POINT("file_cache.fetch");
    if (r < 0)
        err_set(e, r, "file cache: injected fault fetching %s", key);
    else
        r = objstore_get(os, key, start, end - start, data, e);
    pthread_mutex_lock(&c->mu);
    c->st.gets++;
    if (r == 0) {
        c->st.misses += n;
        c->st.bytes_fetched += end - start;
    }
    pthread_mutex_unlock(&c->mu);
    metrics_inc(m_gets);
    if (r == 0) {
        metrics_add(m_misses, (int64_t)n);
        metrics_add(m_bytes, (int64_t)(end - start));
    }
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            install_piece(c, id, key, h, obj_size, &p[i], data + (piece_start(c, &p[i]) - start));
        } else {
            pthread_mutex_lock(&c->mu);
            release_claim(c, h, p[i].blk);
            pthread_mutex_unlock(&c->mu);
        }
    }
    if (r == 0 && out)
        memcpy(out, data + (want_off - start), want_len);
    free(data);
    return r;
}

static int check_args(struct file_cache *c, const char *id, const char *key, uint64_t obj_size, uint64_t off,
                      uint64_t len, struct err *e)
{
    (void)c;
    if (strlen(id) > FC_ID_MAX)
        return err_set(e, FLOE_EBADINPUT, "file cache: id of %s is longer than %u bytes", key, FC_ID_MAX);
    if (off > obj_size || len > obj_size - off)
        return err_set(e, FLOE_ECORRUPT, "%s: read of %" PRIu64 " bytes at %" PRIu64 " is past its size %" PRIu64,
                       key, len, off, obj_size);
    return 0;
}

/* Block files a reader keeps open, by (block, gen) (an io_source keeps a few). */
struct fc_fd {
    int fd;            /* -1 = none */
    uint64_t blk, gen, used;
};

struct fc_fds {
    struct fc_fd slot[FC_SRC_FDS];
    uint64_t tick;
};

static void fds_close_all(struct fc_fds *f)
{
    for (int i = 0; f && i < FC_SRC_FDS; i++)
        if (f->slot[i].fd >= 0) {
            close(f->slot[i].fd);
            f->slot[i].fd = -1;
        }
}

/* Under mu: an open fd of the entry's current file, from fds or newly opened (then *fresh). -1 on failure. */
static int entry_fd(struct file_cache *c, const struct fc_entry *en, struct fc_fds *fds, struct fc_fd **ret_slot)
{
    *ret_slot = NULL;
    struct fc_fd *victim = NULL;
    if (fds) {
        for (int i = 0; i < FC_SRC_FDS; i++) {
            struct fc_fd *s = &fds->slot[i];
            if (s->fd >= 0 && s->blk == en->blk && s->gen == en->gen) {
                s->used = ++fds->tick;
                *ret_slot = s;
                return s->fd;
            }
            if (!victim || (victim->fd >= 0 && (s->fd < 0 || s->used < victim->used)))
                victim = s;
        }
    }
    char *p = entry_path(c, en->h, en->blk);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd >= 0 && victim) {
        if (victim->fd >= 0)
            close(victim->fd);
        *victim = (struct fc_fd){ fd, en->blk, en->gen, ++fds->tick };
        *ret_slot = victim;
    }
    return fd;
}

static int cache_read(struct file_cache *c, struct objstore *os, const char *id, const uint8_t h[16], const char *key,
                      uint64_t obj_size, uint64_t off, size_t len, void *out, struct fc_fds *fds, struct err *e);

int file_cache_read(struct file_cache *c, struct objstore *os, const char *id, const char *key, uint64_t obj_size,
                    uint64_t off, size_t len, void *out, struct err *e)
{
    uint8_t h[16];
    hash_id(id, h);
    return cache_read(c, os, id, h, key, obj_size, off, len, out, NULL, e);
}

/* Under mu: a READY entry's bytes failed their crc (or its file is gone): drop it, unless it changed meanwhile. */
static void drop_corrupt(struct file_cache *c, const uint8_t h[16], uint64_t blk, uint64_t gen, const char *key)
{
    struct fc_entry *en;
    while ((en = lookup(c, h, blk)) != NULL && en->state == FC_READY && en->extending && en->gen == gen)
        pthread_cond_wait(&c->cond, &c->mu);
    if (en && en->state == FC_READY && en->gen == gen) {
        drop_ready(c, en);
        c->st.corrupt++;
        metrics_inc(m_corrupt);
        log_warn("file cache: block %" PRIu64 " of %s failed its checksum; fetching it again", blk, key);
    }
}

uint64_t file_cache_forget(struct file_cache *c, const char *id, uint64_t obj_size)
{
    uint8_t h[16];
    hash_id(id, h);
    uint64_t n = 0, nblk = obj_size / c->bs + 1;
    pthread_mutex_lock(&c->mu);
    for (uint64_t blk = 0; blk < nblk; blk++) {
        struct fc_entry *en = lookup(c, h, blk);
        if (en && en->state == FC_READY && !en->extending) {
            drop_ready(c, en);
            n++;
        }
    }
    metrics_set(m_used, (int64_t)c->st.used_bytes);
    pthread_mutex_unlock(&c->mu);
    return n;
}

static int cache_read(struct file_cache *c, struct objstore *os, const char *id, const uint8_t h[16], const char *key,
                      uint64_t obj_size, uint64_t off, size_t len, void *out, struct fc_fds *fds, struct err *e)
{
    int r = check_args(c, id, key, obj_size, off, len, e);
    if (r < 0 || len == 0)
        return r;
    uint32_t idlen = (uint32_t)strlen(id);
    uint8_t *dst = out;
    uint64_t pos = off, end = off + len;
    struct fc_piece *pieces = NULL;
    size_t pcap = 0;
    while (pos < end) {
        uint64_t blk = pos / c->bs;
        uint32_t boff = (uint32_t)(pos - blk * c->bs);
        uint64_t bend = (blk + 1) * c->bs < end ? (blk + 1) * c->bs : end;
        uint32_t n = (uint32_t)(bend - pos);
        pthread_mutex_lock(&c->mu);
        struct fc_entry *en = lookup(c, h, blk);
        if (en && en->state == FC_READY && en->obj_size != obj_size && !en->extending) {
            /* recorded for another size: not this object's bytes */
            drop_corrupt(c, h, blk, en->gen, key);
            en = NULL;
        }
        if (en && en->state == FC_READY && en->vlo <= boff && boff < en->vhi) {
            /* served from disk: the part of [boff, boff + n) inside the extent */
            if (boff + n > en->vhi)
                n = en->vhi - boff;
            lru_unlink(c, en);
            lru_push_head(c, en);
            struct fc_view v = { en->vlo, en->vhi, en->data_off, idlen };
            uint64_t gen = en->gen;
            bool checked = all_verified(en, boff, n);
            struct fc_fd *slot;
            int fd = entry_fd(c, en, fds, &slot);
            if (fd < 0) {
                drop_corrupt(c, h, blk, gen, key);
                pthread_mutex_unlock(&c->mu);
                continue;
            }
            c->st.hits++;
            pthread_mutex_unlock(&c->mu);
            metrics_inc(m_hits);
            r = read_block(fd, &v, boff, n, dst, checked);
            if (!slot)
                close(fd);
            if (r < 0) {
                if (slot) {
                    close(slot->fd);
                    slot->fd = -1;
                }
                pthread_mutex_lock(&c->mu);
                drop_corrupt(c, h, blk, gen, key);
                pthread_mutex_unlock(&c->mu);
                continue;
            }
            if (!checked) {
                pthread_mutex_lock(&c->mu);
                if ((en = lookup(c, h, blk)) != NULL && en->state == FC_READY && en->gen == gen)
                    mark_verified(en, boff, n);
                pthread_mutex_unlock(&c->mu);
            }
            dst += n;
            pos += n;
            continue;
        }
        /* a miss: claim this block's piece and the following ones of this read that continue it */
        size_t np = 0;
        uint64_t run_bytes = 0;
        for (uint64_t b = blk; b * c->bs < end; b++) {
            uint32_t lo = b == blk ? boff : 0;
            uint32_t hi = (b + 1) * c->bs < end ? block_len(c, obj_size, b) : (uint32_t)(end - b * c->bs);
            struct fc_piece p;
            if (np > 0) {
                /* a READY block of another size is left to the next turn of the loop */
                struct fc_entry *x = lookup(c, h, b);
                if (x && x->state == FC_READY && x->obj_size != obj_size)
                    break;
            }
            enum plan pl = plan_block(c, h, b, lo, hi, &p);
            if (pl == PLAN_WAIT && np == 0) {
                c->st.waits++;
                pthread_cond_wait(&c->cond, &c->mu);
                break;
            }
            if (pl != PLAN_FETCH)
                break;
            if (np > 0 && (piece_start(c, &p) != piece_end(c, &pieces[np - 1]) ||
                           run_bytes + (p.hi - p.lo) > c->max_run)) {
                release_claim(c, h, b);
                break;
            }
            if (np == pcap) {
                pcap = pcap ? 2 * pcap : 8;
                pieces = xrealloc(pieces, pcap * sizeof(*pieces));
            }
            pieces[np++] = p;
            run_bytes += p.hi - p.lo;
            if (p.hi != block_len(c, obj_size, b))
                break;
        }
        pthread_mutex_unlock(&c->mu);
        if (np == 0)
            continue; /* waited: look again */
        uint64_t run_end = piece_end(c, &pieces[np - 1]) < end ? piece_end(c, &pieces[np - 1]) : end;
        r = fetch_run(c, os, id, key, h, obj_size, pieces, np, pos, (size_t)(run_end - pos), dst, e);
        if (r < 0)
            break;
        dst += run_end - pos;
        pos = run_end;
    }
    free(pieces);
    return r;
}

static int cmp_range(const void *a, const void *b)
{
    const struct io_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

int file_cache_prefetch(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                        uint64_t obj_size, const struct io_range *ranges, size_t n, struct err *e)
{
    struct io_range *bl = NULL;   /* per block touched: off = block, len = [lo, hi) packed */
    size_t nb = 0, cap = 0;
    struct fc_piece *pieces = NULL;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if ((r = check_args(c, id, key, obj_size, ranges[i].off, ranges[i].len, e)) < 0)
            goto out;
        if (ranges[i].len == 0)
            continue;
        uint64_t a = ranges[i].off, z = ranges[i].off + ranges[i].len;
        for (uint64_t b = a / c->bs; b <= (z - 1) / c->bs; b++) {
            uint64_t lo = b * c->bs > a ? 0 : a - b * c->bs;
            uint64_t hi = (b + 1) * c->bs < z ? block_len(c, obj_size, b) : z - b * c->bs;
            if (nb == cap) {
                cap = cap ? cap * 2 : 64;
                bl = xrealloc(bl, cap * sizeof(*bl));
            }
            bl[nb++] = (struct io_range){ b, lo << 32 | hi };
        }
    }
    if (nb == 0)
        goto out;
    qsort(bl, nb, sizeof(*bl), cmp_range);
    uint8_t h[16];
    hash_id(id, h);
    /* per block, the hull of what the ranges want of it; claim what is missing */
    pieces = xmalloc(nb * sizeof(*pieces));
    size_t k = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < nb;) {
        uint64_t b = bl[i].off;
        uint32_t lo = (uint32_t)(bl[i].len >> 32), hi = (uint32_t)bl[i].len;
        size_t j = i + 1;
        for (; j < nb && bl[j].off == b; j++) {
            uint32_t l2 = (uint32_t)(bl[j].len >> 32), h2 = (uint32_t)bl[j].len;
            lo = l2 < lo ? l2 : lo;
            hi = h2 > hi ? h2 : hi;
        }
        i = j;
        struct fc_entry *en = lookup(c, h, b);
        if (en && en->state == FC_READY && en->obj_size != obj_size)
            continue; /* the read drops it */
        struct fc_piece p;
        if (plan_block(c, h, b, lo, hi, &p) == PLAN_FETCH)
            pieces[k++] = p;
    }
    pthread_mutex_unlock(&c->mu);
    /* fetch runs of pieces that continue each other */
    size_t i = 0;
    while (i < k) {
        size_t j = i + 1;
        uint64_t bytes = pieces[i].hi - pieces[i].lo;
        while (j < k && piece_start(c, &pieces[j]) == piece_end(c, &pieces[j - 1]) &&
               bytes + (pieces[j].hi - pieces[j].lo) <= c->max_run) {
            bytes += pieces[j].hi - pieces[j].lo;
            j++;
        }
        if (r == 0) {
            r = fetch_run(c, os, id, key, h, obj_size, pieces + i, j - i, 0, 0, NULL, e);
        } else {
            /* an earlier run failed: release the claims of the rest */
            pthread_mutex_lock(&c->mu);
            for (size_t x = i; x < j; x++)
                release_claim(c, h, pieces[x].blk);
            pthread_mutex_unlock(&c->mu);
        }
        i = j;
    }
out:
    free(bl);
    free(pieces);
    return r;
}

/* ---- open / rebuild ---- */

static int cmp_mtime(const void *a, const void *b)
{
    const struct fc_entry *x = *(struct fc_entry *const *)a, *y = *(struct fc_entry *const *)b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static bool parse_block_name(const char *name, uint8_t h[16], uint64_t *blk)
{
    size_t n = strlen(name);
    if (n < 32 + 1 + 1 + 4 || name[32] != '_' || strcmp(name + n - 4, ".blk") != 0)
        return false;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(name + 2 * i, "%2x", &v) != 1)
            return false;
        h[i] = (uint8_t)v;
    }
    char hx[33];
    hex(h, 16, hx);
    if (memcmp(hx, name, 32) != 0)
        return false;
    uint64_t b = 0;
    for (size_t i = 33; i < n - 4; i++) {
        if (name[i] < '0' || name[i] > '9' || b > UINT64_MAX / 20)
            return false;
        b = b * 10 + (uint64_t)(name[i] - '0');
    }
    *blk = b;
    return true;
}

/* Checks a block file's header against its name and size; fills the extent, data_off and obj_size. */
static bool check_header(const char *path, struct fc_entry *en, uint32_t bs)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = false;
    uint8_t hdr[FC_HDR];
    uint8_t *rest = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || fs_pread_full(fd, hdr, FC_HDR, 0) < 0)
        goto out;
    uint32_t vlo = get_u32le(hdr + 8), vlen = get_u32le(hdr + 12), idlen = get_u32le(hdr + 16);
    uint32_t nc = get_u32le(hdr + 20);
    uint64_t obj_size = get_u64le(hdr + 24);
    if (get_u32le(hdr) != FC_MAGIC || get_u32le(hdr + 4) != FC_VERSION || vlen == 0 || vlo > bs ||
        vlen > bs - vlo || idlen > FC_ID_MAX || nc != nchunks(vlo, vlo + vlen) || get_u32le(hdr + 36) != 0)
        goto out;
    /* the extent lies inside the block of an object of that size */
    uint64_t bstart = en->blk * (uint64_t)bs;
    if (en->blk > UINT64_MAX / bs || bstart >= obj_size || vlo + vlen > obj_size - bstart)
        goto out;
    size_t rl = idlen + 4u * nc;
    if ((uint64_t)st.st_size != FC_HDR + rl + vlen)
        goto out;
    rest = xmalloc(rl);
    if (fs_pread_full(fd, rest, rl, FC_HDR) < 0)
        goto out;
    uint32_t hc = crc32c(crc32c(0, hdr, 32), rest, rl);
    if (hc != get_u32le(hdr + 32))
        goto out;
    uint8_t h[16];
    char *id = xstrndup((const char *)rest, idlen);
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)id, strlen(id), d);
    memcpy(h, d, 16);
    free(id);
    if (memcmp(h, en->h, 16) != 0)
        goto out;
    en->vlo = vlo;
    en->vhi = vlo + vlen;
    en->obj_size = obj_size;
    en->data_off = (uint32_t)(FC_HDR + rl);
    en->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    ok = true;
out:
    free(rest);
    close(fd);
    return ok;
}

static void rebuild(struct file_cache *c)
{
    struct fc_entry **all = NULL;
    size_t n = 0, cap = 0, dropped = 0;
    DIR *d = opendir(c->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *sub = xasprintf("%s/%s", c->dir, de->d_name);
        DIR *sd = opendir(sub);
        if (!sd) {
            free(sub);
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(sd)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            char *p = xasprintf("%s/%s", sub, fe->d_name);
            struct fc_entry tmp = { 0 };
            if (parse_block_name(fe->d_name, tmp.h, &tmp.blk) && check_header(p, &tmp, c->bs) &&
                !lookup(c, tmp.h, tmp.blk)) {
                struct fc_entry *en = xmalloc(sizeof(*en));
                *en = tmp;
                en->state = FC_READY;
                en->gen = ++c->next_gen;
                en->verified = new_verified(c);
                tab_insert(c, en);
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    all = xrealloc(all, cap * sizeof(*all));
                }
                all[n++] = en;
            } else {
                unlink(p);
                dropped++;
            }
            free(p);
        }
        closedir(sd);
        free(sub);
    }
    closedir(d);
    if (n)
        qsort(all, n, sizeof(*all), cmp_mtime);
    for (size_t i = 0; i < n; i++) {
        lru_push_head(c, all[i]);
        c->st.used_bytes += all[i]->vhi - all[i]->vlo;
        c->st.nblocks++;
    }
    free(all);
    evict_to_capacity(c);
    log_info("file cache %s: %" PRIu64 " blocks, %" PRIu64 " bytes after restart; %zu stale files removed", c->dir,
             c->st.nblocks, c->st.used_bytes, dropped);
}

int file_cache_open(const struct file_cache_opts *o, struct file_cache **ret, struct err *e)
{
    *ret = NULL;
    pthread_once(&metrics_once, metrics_setup);
    if (!o->dir || !*o->dir)
        return err_set(e, FLOE_ECONFIG, "file_cache_dir: must be set");
    if (o->block_size < FILE_CACHE_MIN_BLOCK || o->block_size > FILE_CACHE_MAX_BLOCK ||
        o->block_size % FILE_CACHE_MIN_BLOCK != 0)
        return err_set(e, FLOE_ECONFIG, "file_cache_block_kb: %u KiB, expected a multiple of %u in [%u, %u]",
                       o->block_size / 1024, FILE_CACHE_MIN_BLOCK / 1024, FILE_CACHE_MIN_BLOCK / 1024,
                       FILE_CACHE_MAX_BLOCK / 1024);
    if (o->capacity_bytes < o->block_size)
        return err_set(e, FLOE_ECONFIG, "file_cache_capacity_mb: %" PRIu64 " bytes is less than one block (%u)",
                       o->capacity_bytes, o->block_size);
    int r = fs_mkdir_p(o->dir, 0755, e);
    if (r < 0) {
        err_prefix(e, "file_cache_dir");
        return r;
    }
    struct file_cache *c = xcalloc(1, sizeof(*c));
    c->dir = xstrdup(o->dir);
    c->capacity = o->capacity_bytes;
    c->bs = o->block_size;
    c->max_run = o->max_run_bytes ? o->max_run_bytes : (64u << 20);
    if (c->max_run < c->bs)
        c->max_run = c->bs;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    uint64_t want = o->capacity_bytes / o->block_size * 2;
    c->nbuckets = 1024;
    while (c->nbuckets < want && c->nbuckets < (1u << 24))
        c->nbuckets <<= 1;
    c->tab = xcalloc(c->nbuckets, sizeof(*c->tab));
    rebuild(c);
    *ret = c;
    return 0;
}

void file_cache_close(struct file_cache *c)
{
    if (!c)
        return;
    for (size_t b = 0; b < c->nbuckets; b++) {
        struct fc_entry *en = c->tab[b];
        while (en) {
            struct fc_entry *nx = en->hnext;
            free(en->verified);
            free(en);
            en = nx;
        }
    }
    free(c->tab);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c->dir);
    free(c);
}

void file_cache_stats_get(struct file_cache *c, struct file_cache_stats *ret)
{
    pthread_mutex_lock(&c->mu);
    *ret = c->st;
    pthread_mutex_unlock(&c->mu);
}

/* ---- io_source ---- */

struct fc_source {
    struct io_source base;
    struct file_cache *c;
    struct objstore *os;
    char *id;
    uint8_t h[16];
    struct fc_fds fds;
};

static int src_read_at(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    struct fc_source *f = (struct fc_source *)s;
    return cache_read(f->c, f->os, f->id, f->h, s->name, s->size, off, len, out, &f->fds, e);
}

static int src_prefetch(struct io_source *s, const struct io_range *ranges, size_t n, struct err *e)
{
    struct fc_source *f = (struct fc_source *)s;
    return file_cache_prefetch(f->c, f->os, f->id, s->name, s->size, ranges, n, e);
}

static void src_close(struct io_source *s)
{
    struct fc_source *f = (struct fc_source *)s;
    fds_close_all(&f->fds);
    free(f->id);
    free(s->name);
    free(f);
}

static void src_damaged(struct io_source *s)
{
    struct fc_source *f = (struct fc_source *)s;
    file_cache_forget(f->c, f->id, s->size);
}

static const struct io_source_ops src_ops = { src_read_at, src_prefetch, src_close, src_damaged };

int file_cache_open_source(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                           uint64_t obj_size, struct io_source **ret, struct err *e)
{
    *ret = NULL;
    if (strlen(id) > FC_ID_MAX)
        return err_set(e, FLOE_EBADINPUT, "file cache: id of %s is longer than %u bytes", key, FC_ID_MAX);
    struct fc_source *f = xcalloc(1, sizeof(*f));
    f->base.ops = &src_ops;
    f->base.name = xstrdup(key);
    f->base.size = obj_size;
    f->c = c;
    f->os = os;
    f->id = xstrdup(id);
    hash_id(id, f->h);
    for (int i = 0; i < FC_SRC_FDS; i++)
        f->fds.slot[i].fd = -1;
    *ret = &f->base;
    return 0;
}
