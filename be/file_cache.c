/*
 * file_cache: block files on local disk, an in-memory index (hash table +
 * LRU list) guarded by one mutex, single-flight through a LOADING state and
 * a condition variable.
 *
 * Invariants: an entry is LOADING (owned by exactly one fetching thread, not
 * in the LRU, not counted in used) or READY (file complete and renamed into
 * place, in the LRU, counted). Block files are created and unlinked only
 * under the mutex; a reader opens the file under the mutex, so an eviction
 * after that only unlinks a name the reader no longer needs.
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
#define FC_VERSION 2u
#define FC_HDR 32u
#define FC_ID_MAX 2048u

enum { FC_LOADING = 1, FC_READY = 2 };

struct fc_entry {
    uint8_t h[16];
    uint64_t blk;
    int state;
    uint32_t len;          /* data bytes (READY) */
    uint32_t data_off;     /* where data starts in the file */
    int64_t mtime;         /* for ordering at rebuild */
    uint64_t gen;          /* distinguishes a refetched block from the one it replaced */
    uint64_t *verified;    /* READY: bit per chunk whose crc this process has checked */
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

/* Under mu: drop a READY entry and its file. */
static void drop_ready(struct file_cache *c, struct fc_entry *en)
{
    char *p = entry_path(c, en->h, en->blk);
    unlink(p);
    free(p);
    lru_unlink(c, en);
    tab_remove(c, en);
    c->st.used_bytes -= en->len;
    c->st.nblocks--;
    free(en->verified);
    free(en);
}

static void evict_to_capacity(struct file_cache *c)
{
    while (c->st.used_bytes > c->capacity && c->tail) {
        drop_ready(c, c->tail);
        c->st.evictions++;
        metrics_inc(m_evict);
    }
    metrics_set(m_used, (int64_t)c->st.used_bytes);
}

static uint32_t nchunks(uint32_t len) { return (len + FILE_CACHE_CHUNK - 1) / FILE_CACHE_CHUNK; }

/*
 * Header: magic, version, data_len, id_len (u32 each), obj_size (u64),
 * nchunks (u32), hdr_crc (u32: crc32c of the 28 bytes before it, the id and
 * the chunk crcs); then id, chunk crcs, data.
 */
static int write_block(struct file_cache *c, const uint8_t h[16], uint64_t blk, const char *id, uint64_t obj_size,
                       const uint8_t *data, uint32_t len, uint32_t *ret_off)
{
    uint32_t idlen = (uint32_t)strlen(id);
    uint32_t nc = nchunks(len);
    size_t hl = FC_HDR + idlen + 4u * nc;
    uint8_t *hdr = xmalloc(hl);
    put_u32le(hdr, FC_MAGIC);
    put_u32le(hdr + 4, FC_VERSION);
    put_u32le(hdr + 8, len);
    put_u32le(hdr + 12, idlen);
    put_u64le(hdr + 16, obj_size);
    put_u32le(hdr + 24, nc);
    memcpy(hdr + FC_HDR, id, idlen);
    for (uint32_t i = 0; i < nc; i++) {
        uint32_t cl = len - i * FILE_CACHE_CHUNK < FILE_CACHE_CHUNK ? len - i * FILE_CACHE_CHUNK : FILE_CACHE_CHUNK;
        put_u32le(hdr + FC_HDR + idlen + 4u * i, crc32c(0, data + (size_t)i * FILE_CACHE_CHUNK, cl));
    }
    uint32_t hc = crc32c(0, hdr, 28);
    hc = crc32c(hc, hdr + FC_HDR, idlen + 4u * nc);
    put_u32le(hdr + 28, hc);

    char *p = entry_path(c, h, blk);
    pthread_mutex_lock(&c->mu);
    unsigned seq = c->tmp_seq++;
    pthread_mutex_unlock(&c->mu);
    char *tmp = xasprintf("%s.tmp.%d.%u", p, (int)getpid(), seq);
    char *sub = xstrndup(p, strrchr(p, '/') - p);
    int r = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        mkdir(sub, 0755);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if ((r = fs_write_full(fd, hdr, hl)) < 0 || (r = fs_write_full(fd, data, len)) < 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    /* the cache needs no fsync: a block torn by a crash fails its crc and is refetched */
    if (rename(tmp, p) < 0) {
        r = -errno;
        unlink(tmp);
        goto out;
    }
    *ret_off = (uint32_t)hl;
out:
    free(hdr);
    free(p);
    free(tmp);
    free(sub);
    return r;
}

/*
 * Reads [boff, boff + n) of a READY block into out, checking the crcs of
 * the chunks touched. fd was opened under mu. Returns 0, or FLOE_ECORRUPT.
 */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    buf_release(p);
    free(p);
}

static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static int read_block(int fd, uint32_t data_off, uint32_t len, uint32_t idlen, uint32_t boff, uint32_t n,
                      uint8_t *out, bool checked)
{
    if (checked)
        return fs_pread_full(fd, out, n, (off_t)data_off + boff) < 0 ? FLOE_ECORRUPT : 0;
    /* one scratch buffer per thread: no allocation (and no fresh pages) per read */
    pthread_once(&scratch_once, scratch_key_init);
    struct buf *sb = pthread_getspecific(scratch_key);
    if (!sb) {
        sb = xcalloc(1, sizeof(*sb));
        pthread_setspecific(scratch_key, sb);
    }
    uint32_t c0 = boff / FILE_CACHE_CHUNK, c1 = (boff + n - 1) / FILE_CACHE_CHUNK;
    uint32_t ncr = c1 - c0 + 1;
    uint32_t from = c0 * FILE_CACHE_CHUNK;
    uint32_t to = (c1 + 1) * FILE_CACHE_CHUNK < len ? (c1 + 1) * FILE_CACHE_CHUNK : len;
    bool direct = from == boff && to == boff + n;
    size_t need = 4u * ncr + (direct ? 0 : to - from);
    if (need > sb->cap)
        buf_grow(sb, need - sb->len);
    uint8_t *crcs = (uint8_t *)sb->data;
    uint8_t *tmp = direct ? out : crcs + 4u * ncr;
    if (fs_pread_full(fd, crcs, 4u * ncr, (off_t)(FC_HDR + idlen + 4u * c0)) < 0 ||
        fs_pread_full(fd, tmp, to - from, (off_t)data_off + from) < 0)
        return FLOE_ECORRUPT;
    for (uint32_t i = 0; i < ncr; i++) {
        uint32_t cs = i * FILE_CACHE_CHUNK;
        uint32_t cl = (to - from) - cs < FILE_CACHE_CHUNK ? (to - from) - cs : FILE_CACHE_CHUNK;
        if (crc32c(0, tmp + cs, cl) != get_u32le(crcs + 4 * i))
            return FLOE_ECORRUPT;
    }
    if (!direct)
        memcpy(out, tmp + (boff - from), n);
    return 0;
}

static uint32_t block_len(const struct file_cache *c, uint64_t obj_size, uint64_t blk)
{
    uint64_t start = blk * c->bs;
    uint64_t left = obj_size - start;
    return left < c->bs ? (uint32_t)left : c->bs;
}

/* Under mu: the newest state of a LOADING entry changes; wake everyone. */
static void finish_loading(struct file_cache *c, struct fc_entry *en, bool ok, uint32_t data_off)
{
    if (ok) {
        en->state = FC_READY;
        en->data_off = data_off;
        en->gen = ++c->next_gen;
        en->verified = xcalloc((nchunks(en->len) + 63) / 64, sizeof(uint64_t));
        lru_push_head(c, en);
        c->st.used_bytes += en->len;
        c->st.nblocks++;
        evict_to_capacity(c);
    } else {
        tab_remove(c, en);
        free(en);
    }
    pthread_cond_broadcast(&c->cond);
}

/*
 * Fetches blocks [b0, b0 + n), all LOADING and owned by the caller, with one
 * GET, writes their files and marks them READY. When out is non-NULL, bytes
 * [want_off, want_off + want_len) of the object (inside the run) are copied
 * to it. On error every block is released (waiters retry).
 */
static int fetch_run(struct file_cache *c, struct objstore *os, const char *id, const char *key, const uint8_t h[16],
                     uint64_t obj_size, uint64_t b0, uint64_t n, uint64_t want_off, size_t want_len, uint8_t *out,
                     struct err *e)
{
    uint64_t start = b0 * c->bs;
    uint64_t end = (b0 + n) * c->bs < obj_size ? (b0 + n) * c->bs : obj_size;
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
    for (uint64_t b = b0; b < b0 + n; b++) {
        uint32_t len = block_len(c, obj_size, b);
        uint32_t off = 0;
        bool ok = false;
        if (r == 0) {
            int wr = write_block(c, h, b, id, obj_size, data + (b - b0) * c->bs, len, &off);
            if (wr < 0)
                log_warn("file cache: write block %" PRIu64 " of %s: %s", b, key, err_str(wr));
            ok = wr == 0;
        }
        pthread_mutex_lock(&c->mu);
        struct fc_entry *en = lookup(c, h, b);
        if (en && en->state == FC_LOADING)
            finish_loading(c, en, ok, off);
        pthread_mutex_unlock(&c->mu);
    }
    if (r == 0 && out)
        memcpy(out, data + (want_off - start), want_len);
    free(data);
    return r;
}

/* Under mu: claims block blk as LOADING. */
static struct fc_entry *claim(struct file_cache *c, const uint8_t h[16], uint64_t blk, uint32_t len)
{
    struct fc_entry *en = xcalloc(1, sizeof(*en));
    memcpy(en->h, h, 16);
    en->blk = blk;
    en->state = FC_LOADING;
    en->len = len;
    tab_insert(c, en);
    return en;
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

/* A reader's open block file, reused while it reads the same block (an io_source keeps one). */
struct fc_fd {
    int fd;            /* -1 = none */
    uint64_t blk, gen;
};

static int cache_read(struct file_cache *c, struct objstore *os, const char *id, const uint8_t h[16], const char *key,
                      uint64_t obj_size, uint64_t off, size_t len, void *out, struct fc_fd *fdc, struct err *e);

int file_cache_read(struct file_cache *c, struct objstore *os, const char *id, const char *key, uint64_t obj_size,
                    uint64_t off, size_t len, void *out, struct err *e)
{
    uint8_t h[16];
    hash_id(id, h);
    return cache_read(c, os, id, h, key, obj_size, off, len, out, NULL, e);
}

static int cache_read(struct file_cache *c, struct objstore *os, const char *id, const uint8_t h[16], const char *key,
                      uint64_t obj_size, uint64_t off, size_t len, void *out, struct fc_fd *fdc, struct err *e)
{
    int r = check_args(c, id, key, obj_size, off, len, e);
    if (r < 0 || len == 0)
        return r;
    uint32_t idlen = (uint32_t)strlen(id);
    uint8_t *dst = out;
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        uint64_t blk = pos / c->bs;
        uint32_t boff = (uint32_t)(pos - blk * c->bs);
        uint64_t bend = (blk + 1) * c->bs < end ? (blk + 1) * c->bs : end;
        uint32_t n = (uint32_t)(bend - pos);
        pthread_mutex_lock(&c->mu);
        struct fc_entry *en = lookup(c, h, blk);
        if (en && en->state == FC_LOADING) {
            c->st.waits++;
            while ((en = lookup(c, h, blk)) != NULL && en->state == FC_LOADING)
                pthread_cond_wait(&c->cond, &c->mu);
            pthread_mutex_unlock(&c->mu);
            continue;
        }
        if (en) {
            lru_unlink(c, en);
            lru_push_head(c, en);
            uint64_t gen = en->gen;
            int fd;
            bool reuse = fdc && fdc->fd >= 0 && fdc->blk == blk && fdc->gen == gen;
            if (reuse) {
                fd = fdc->fd;
            } else {
                char *p = entry_path(c, h, blk);
                fd = open(p, O_RDONLY | O_CLOEXEC);
                free(p);
            }
            uint32_t doff = en->data_off, blen = en->len;
            uint32_t c0 = boff / FILE_CACHE_CHUNK, c1 = (boff + n - 1) / FILE_CACHE_CHUNK;
            bool checked = true;
            for (uint32_t k = c0; k <= c1 && checked; k++)
                checked = (en->verified[k / 64] >> (k % 64)) & 1;
            if (fd < 0) {
                drop_ready(c, en);
                c->st.corrupt++;
                pthread_mutex_unlock(&c->mu);
                metrics_inc(m_corrupt);
                continue;
            }
            pthread_mutex_unlock(&c->mu);
            r = blen == block_len(c, obj_size, blk) ? read_block(fd, doff, blen, idlen, boff, n, dst, checked)
                                                   : FLOE_ECORRUPT;
            if (fdc && r == 0 && !reuse) {
                /* keep this block's file open for the reader's next read */
                if (fdc->fd >= 0)
                    close(fdc->fd);
                *fdc = (struct fc_fd){ fd, blk, gen };
            } else if (fdc && r < 0 && reuse) {
                close(fd);
                fdc->fd = -1;
            } else if (!reuse) {
                close(fd);
            }
            if (r < 0) {
                pthread_mutex_lock(&c->mu);
                en = lookup(c, h, blk);
                if (en && en->state == FC_READY)
                    drop_ready(c, en);
                c->st.corrupt++;
                pthread_mutex_unlock(&c->mu);
                metrics_inc(m_corrupt);
                log_warn("file cache: block %" PRIu64 " of %s failed its checksum; fetching it again", blk, key);
                continue;
            }
            pthread_mutex_lock(&c->mu);
            if (!checked && (en = lookup(c, h, blk)) != NULL && en->state == FC_READY && en->gen == gen)
                for (uint32_t k = c0; k <= c1; k++)
                    en->verified[k / 64] |= 1ull << (k % 64);
            c->st.hits++;
            pthread_mutex_unlock(&c->mu);
            metrics_inc(m_hits);
            dst += n;
            pos = bend;
            continue;
        }
        /* a miss: claim it and the following missing blocks of this read */
        uint64_t last = (end - 1) / c->bs;
        uint64_t nb = 0;
        while (blk + nb <= last && (nb + 1) * c->bs <= c->max_run && !lookup(c, h, blk + nb)) {
            claim(c, h, blk + nb, block_len(c, obj_size, blk + nb));
            nb++;
        }
        pthread_mutex_unlock(&c->mu);
        uint64_t run_end = (blk + nb) * c->bs < end ? (blk + nb) * c->bs : end;
        r = fetch_run(c, os, id, key, h, obj_size, blk, nb, pos, (size_t)(run_end - pos), dst, e);
        if (r < 0)
            return r;
        dst += run_end - pos;
        pos = run_end;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int file_cache_prefetch(struct file_cache *c, struct objstore *os, const char *id, const char *key,
                        uint64_t obj_size, const struct io_range *ranges, size_t n, struct err *e)
{
    uint64_t *blks = NULL;
    size_t nb = 0, cap = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if ((r = check_args(c, id, key, obj_size, ranges[i].off, ranges[i].len, e)) < 0)
            goto out;
        if (ranges[i].len == 0)
            continue;
        for (uint64_t b = ranges[i].off / c->bs; b <= (ranges[i].off + ranges[i].len - 1) / c->bs; b++) {
            if (nb == cap) {
                cap = cap ? cap * 2 : 64;
                blks = xrealloc(blks, cap * sizeof(*blks));
            }
            blks[nb++] = b;
        }
    }
    if (nb == 0)
        goto out;
    qsort(blks, nb, sizeof(*blks), cmp_u64);
    uint8_t h[16];
    hash_id(id, h);
    /* claim every missing block, then fetch runs of consecutive claimed ones */
    size_t k = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < nb; i++) {
        if (i > 0 && blks[i] == blks[i - 1])
            continue;
        if (!lookup(c, h, blks[i])) {
            claim(c, h, blks[i], block_len(c, obj_size, blks[i]));
            blks[k++] = blks[i];
        }
    }
    pthread_mutex_unlock(&c->mu);
    size_t i = 0;
    uint64_t per_run = c->max_run / c->bs ? c->max_run / c->bs : 1;
    while (i < k) {
        size_t j = i + 1;
        while (j < k && blks[j] == blks[j - 1] + 1 && j - i < per_run)
            j++;
        if (r == 0) {
            r = fetch_run(c, os, id, key, h, obj_size, blks[i], blks[j - 1] - blks[i] + 1, 0, 0, NULL, e);
        } else {
            /* an earlier run failed: release the claims of the rest */
            pthread_mutex_lock(&c->mu);
            for (size_t x = i; x < j; x++) {
                struct fc_entry *en = lookup(c, h, blks[x]);
                if (en && en->state == FC_LOADING)
                    finish_loading(c, en, false, 0);
            }
            pthread_mutex_unlock(&c->mu);
        }
        i = j;
    }
out:
    free(blks);
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

/* Checks a block file's header; fills len and data_off. */
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
    uint32_t len = get_u32le(hdr + 8), idlen = get_u32le(hdr + 12), nc = get_u32le(hdr + 24);
    if (get_u32le(hdr) != FC_MAGIC || get_u32le(hdr + 4) != FC_VERSION || len == 0 || len > bs ||
        idlen > FC_ID_MAX || nc != nchunks(len))
        goto out;
    size_t rl = idlen + 4u * nc;
    if ((uint64_t)st.st_size != FC_HDR + rl + len)
        goto out;
    rest = xmalloc(rl);
    if (fs_pread_full(fd, rest, rl, FC_HDR) < 0)
        goto out;
    uint32_t hc = crc32c(crc32c(0, hdr, 28), rest, rl);
    if (hc != get_u32le(hdr + 28))
        goto out;
    uint8_t h[16];
    char *id = xstrndup((const char *)rest, idlen);
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)id, strlen(id), d);
    memcpy(h, d, 16);
    free(id);
    if (memcmp(h, en->h, 16) != 0)
        goto out;
    en->len = len;
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
                en->verified = xcalloc((nchunks(en->len) + 63) / 64, sizeof(uint64_t));
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
        c->st.used_bytes += all[i]->len;
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
    struct fc_fd fd;
};

static int src_read_at(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    struct fc_source *f = (struct fc_source *)s;
    return cache_read(f->c, f->os, f->id, f->h, s->name, s->size, off, len, out, &f->fd, e);
}

static int src_prefetch(struct io_source *s, const struct io_range *ranges, size_t n, struct err *e)
{
    struct fc_source *f = (struct fc_source *)s;
    return file_cache_prefetch(f->c, f->os, f->id, s->name, s->size, ranges, n, e);
}

static void src_close(struct io_source *s)
{
    struct fc_source *f = (struct fc_source *)s;
    if (f->fd.fd >= 0)
        close(f->fd.fd);
    free(f->id);
    free(s->name);
    free(f);
}

static const struct io_source_ops src_ops = { src_read_at, src_prefetch, src_close };

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
    f->fd.fd = -1;
    *ret = &f->base;
    return 0;
}
