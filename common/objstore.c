/*
 * objstore: the driver-independent half of the object-store client. It owns
 * the resource description, validates keys, applies the resource prefix,
 * splits batch deletes into requests of at most 1000 keys, sorts listings,
 * keeps the counters and turns ranged gets into files atomically. The
 * drivers (objstore_local.c, objstore_s3.c) do the I/O.
 */
#define LOG_MODULE "objstore"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "objstore_int.h"

#define DELETE_BATCH 1000

void objstore_conf_init(struct objstore_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->type = OBJSTORE_LOCAL;
    c->path_style = true;
    c->cred_source = OBJSTORE_CRED_AUTO;
    c->connect_timeout_ms = 5000;
    c->request_timeout_ms = 0;
    c->stall_timeout_ms = 30000;
    c->retry_max_attempts = 6;
    c->retry_base_ms = 50;
    c->retry_max_backoff_ms = 5000;
    c->retry_total_ms = 120000;
    c->multipart_threshold = 64ull << 20;
    c->part_size = 16ull << 20;
    c->parallelism = 4;
    c->max_connections = 16;
}

static void free_secret(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

void objstore_conf_release(struct objstore_conf *c)
{
    if (!c)
        return;
    free(c->root);
    free(c->prefix);
    free(c->endpoint);
    free(c->region);
    free(c->bucket);
    free(c->access_key);
    free_secret(c->secret_key);
    free_secret(c->session_token);
    free(c->cred_file);
    free(c->cred_profile);
    objstore_conf_init(c);
}

static int parse_u64(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *ret,
                     struct err *e)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        goto bad;
    unsigned long long x = strtoull(v, &end, 10);
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1024 * 1024 * 1024, end++;
    if (errno || *end || x > max / mult || x * mult < min)
        goto bad;
    *ret = x * mult;
    return 0;
bad:
    return err_set(e, FLOE_ECONFIG, "objstore config %s: '%s' is not an integer in [%" PRIu64
                   ", %" PRIu64 "]", name, v, min, max);
}

static int parse_int(const char *name, const char *v, int min, int max, int *ret, struct err *e)
{
    uint64_t x;
    int r = parse_u64(name, v, (uint64_t)min, (uint64_t)max, &x, e);
    if (r == 0)
        *ret = (int)x;
    return r;
}

static void set_str(char **field, const char *v, bool secret)
{
    if (secret)
        free_secret(*field);
    else
        free(*field);
    *field = xstrdup(v);
}

int objstore_conf_set(struct objstore_conf *c, const char *name, const char *v, struct err *e)
{
    uint64_t u;
    int r = 0;
    if (!name || !v)
        return err_set(e, FLOE_ECONFIG, "objstore config: missing name or value");
    if (!strcmp(name, "type")) {
        if (!strcmp(v, "local"))
            c->type = OBJSTORE_LOCAL;
        else if (!strcmp(v, "s3"))
            c->type = OBJSTORE_S3;
        else
            return err_set(e, FLOE_ECONFIG, "objstore config type: '%s' is not local or s3", v);
    } else if (!strcmp(name, "root")) {
        set_str(&c->root, v, false);
    } else if (!strcmp(name, "prefix")) {
        set_str(&c->prefix, v, false);
    } else if (!strcmp(name, "endpoint")) {
        set_str(&c->endpoint, v, false);
    } else if (!strcmp(name, "region")) {
        set_str(&c->region, v, false);
    } else if (!strcmp(name, "bucket")) {
        set_str(&c->bucket, v, false);
    } else if (!strcmp(name, "path_style")) {
        if (!strcmp(v, "true") || !strcmp(v, "1"))
            c->path_style = true;
        else if (!strcmp(v, "false") || !strcmp(v, "0"))
            c->path_style = false;
        else
            return err_set(e, FLOE_ECONFIG, "objstore config path_style: '%s' is not true or false", v);
    } else if (!strcmp(name, "credentials")) {
        if (!strcmp(v, "auto"))
            c->cred_source = OBJSTORE_CRED_AUTO;
        else if (!strcmp(v, "explicit"))
            c->cred_source = OBJSTORE_CRED_EXPLICIT;
        else if (!strcmp(v, "env"))
            c->cred_source = OBJSTORE_CRED_ENV;
        else if (!strcmp(v, "file"))
            c->cred_source = OBJSTORE_CRED_FILE;
        else
            return err_set(e, FLOE_ECONFIG,
                           "objstore config credentials: '%s' is not auto, explicit, env or file", v);
    } else if (!strcmp(name, "access_key")) {
        set_str(&c->access_key, v, false);
    } else if (!strcmp(name, "secret_key")) {
        set_str(&c->secret_key, v, true);
    } else if (!strcmp(name, "session_token")) {
        set_str(&c->session_token, v, true);
    } else if (!strcmp(name, "credentials_file")) {
        set_str(&c->cred_file, v, false);
    } else if (!strcmp(name, "profile")) {
        set_str(&c->cred_profile, v, false);
    } else if (!strcmp(name, "connect_timeout_ms")) {
        r = parse_int(name, v, 1, 3600000, &c->connect_timeout_ms, e);
    } else if (!strcmp(name, "request_timeout_ms")) {
        r = parse_int(name, v, 0, 86400000, &c->request_timeout_ms, e);
    } else if (!strcmp(name, "stall_timeout_ms")) {
        r = parse_int(name, v, 1000, 3600000, &c->stall_timeout_ms, e);
    } else if (!strcmp(name, "retry_max_attempts")) {
        r = parse_int(name, v, 1, 100, &c->retry_max_attempts, e);
    } else if (!strcmp(name, "retry_base_ms")) {
        r = parse_int(name, v, 0, 60000, &c->retry_base_ms, e);
    } else if (!strcmp(name, "retry_max_backoff_ms")) {
        r = parse_int(name, v, 0, 600000, &c->retry_max_backoff_ms, e);
    } else if (!strcmp(name, "retry_total_ms")) {
        r = parse_int(name, v, 0, 86400000, &c->retry_total_ms, e);
    } else if (!strcmp(name, "multipart_threshold")) {
        r = parse_u64(name, v, 1, UINT64_MAX, &c->multipart_threshold, e);
    } else if (!strcmp(name, "part_size")) {
        r = parse_u64(name, v, 1, 5ull << 30, &u, e);
        if (r == 0)
            c->part_size = u;
    } else if (!strcmp(name, "parallelism")) {
        r = parse_int(name, v, 1, 64, &c->parallelism, e);
    } else if (!strcmp(name, "max_connections")) {
        r = parse_int(name, v, 1, 1024, &c->max_connections, e);
    } else {
        return err_set(e, FLOE_ECONFIG, "objstore config: unknown key '%s'", name);
    }
    return r;
}

static int check_conf(const struct objstore_conf *c, struct err *e)
{
    if (c->retry_max_attempts < 1)
        return err_set(e, FLOE_ECONFIG, "objstore config retry_max_attempts: must be >= 1");
    if (c->parallelism < 1 || c->parallelism > 64)
        return err_set(e, FLOE_ECONFIG, "objstore config parallelism: must be in [1, 64]");
    if (c->max_connections < 1)
        return err_set(e, FLOE_ECONFIG, "objstore config max_connections: must be >= 1");
    if (c->part_size == 0 || c->multipart_threshold == 0)
        return err_set(e, FLOE_ECONFIG, "objstore config part_size/multipart_threshold: must be > 0");
    if (c->connect_timeout_ms <= 0 || c->stall_timeout_ms <= 0 || c->request_timeout_ms < 0 ||
        c->retry_base_ms < 0 || c->retry_max_backoff_ms < 0 || c->retry_total_ms < 0)
        return err_set(e, FLOE_ECONFIG, "objstore config: timeouts must not be negative");
    if (c->prefix) {
        if (c->prefix[0] == '/')
            return err_set(e, FLOE_ECONFIG, "objstore config prefix '%s': must not start with '/'",
                           c->prefix);
        if (strlen(c->prefix) > 512)
            return err_set(e, FLOE_ECONFIG, "objstore config prefix: longer than 512 bytes");
        for (const unsigned char *p = (const unsigned char *)c->prefix; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return err_set(e, FLOE_ECONFIG, "objstore config prefix: control character");
    }
    return 0;
}

int objstore_open(const struct objstore_conf *conf, struct objstore **ret_os, struct err *e)
{
    *ret_os = NULL;
    int r = check_conf(conf, e);
    if (r < 0)
        return r;
    struct objstore *os = xcalloc(1, sizeof(*os));
    os->type = conf->type;
    const char *p = conf->prefix ? conf->prefix : "";
    size_t pl = strlen(p);
    os->prefix = (pl == 0 || p[pl - 1] == '/') ? xstrdup(p) : xasprintf("%s/", p);
    if (conf->type == OBJSTORE_LOCAL)
        r = objstore_local_open(os, conf, e);
    else if (conf->type == OBJSTORE_S3)
        r = objstore_s3_open(os, conf, e);
    else
        r = err_set(e, FLOE_ECONFIG, "objstore config type: unknown type %d", (int)conf->type);
    if (r < 0) {
        free(os->prefix);
        free(os);
        return r;
    }
    *ret_os = os;
    return 0;
}

void objstore_close(struct objstore *os)
{
    if (!os)
        return;
    if (os->drv && os->drv->close)
        os->drv->close(os);
    free(os->prefix);
    free(os);
}

const char *objstore_type_name(const struct objstore *os)
{
    return os->type == OBJSTORE_S3 ? "s3" : "local";
}

const char *objstore_op_name(enum objstore_op op)
{
    static const char *names[OBJSTORE_OP_N] = {"get", "put", "list", "delete", "head"};
    return (unsigned)op < OBJSTORE_OP_N ? names[op] : "?";
}

/* ---- counters ---- */

void objstore_count_request(struct objstore *os, enum objstore_op op, bool retry, bool error)
{
    __atomic_fetch_add(&os->stats.requests[op], 1, __ATOMIC_RELAXED);
    if (retry)
        __atomic_fetch_add(&os->stats.retries[op], 1, __ATOMIC_RELAXED);
    if (error)
        __atomic_fetch_add(&os->stats.errors[op], 1, __ATOMIC_RELAXED);
}

void objstore_count_bytes(struct objstore *os, uint64_t up, uint64_t down)
{
    if (up)
        __atomic_fetch_add(&os->stats.bytes_up, up, __ATOMIC_RELAXED);
    if (down)
        __atomic_fetch_add(&os->stats.bytes_down, down, __ATOMIC_RELAXED);
}

void objstore_count_deleted(struct objstore *os, uint64_t n)
{
    __atomic_fetch_add(&os->stats.deleted_keys, n, __ATOMIC_RELAXED);
}

void objstore_stats_get(struct objstore *os, struct objstore_stats *ret)
{
    for (int i = 0; i < OBJSTORE_OP_N; i++) {
        ret->requests[i] = __atomic_load_n(&os->stats.requests[i], __ATOMIC_RELAXED);
        ret->errors[i] = __atomic_load_n(&os->stats.errors[i], __ATOMIC_RELAXED);
        ret->retries[i] = __atomic_load_n(&os->stats.retries[i], __ATOMIC_RELAXED);
    }
    ret->bytes_up = __atomic_load_n(&os->stats.bytes_up, __ATOMIC_RELAXED);
    ret->bytes_down = __atomic_load_n(&os->stats.bytes_down, __ATOMIC_RELAXED);
    ret->deleted_keys = __atomic_load_n(&os->stats.deleted_keys, __ATOMIC_RELAXED);
}

/* ---- sinks ---- */

void objstore_sink_mem(struct objstore_sink *s, void *dst, uint64_t cap)
{
    memset(s, 0, sizeof(*s));
    s->kind = SINK_MEM;
    s->mem = dst;
    s->cap = cap;
    s->fd = -1;
}

void objstore_sink_buf(struct objstore_sink *s, struct buf *b)
{
    memset(s, 0, sizeof(*s));
    s->kind = SINK_BUF;
    s->buf = b;
    s->base = b->len;
    s->cap = UINT64_MAX;
    s->fd = -1;
}

void objstore_sink_fd(struct objstore_sink *s, int fd)
{
    memset(s, 0, sizeof(*s));
    s->kind = SINK_FD;
    s->fd = fd;
    s->cap = UINT64_MAX;
}

int objstore_sink_write(struct objstore_sink *s, const void *p, size_t len)
{
    switch (s->kind) {
    case SINK_MEM:
        if (len > s->cap - s->n)
            return -EOVERFLOW;
        memcpy(s->mem + s->n, p, len);
        break;
    case SINK_BUF:
        buf_append(s->buf, p, len);
        break;
    case SINK_FD: {
        const char *c = p;
        size_t done = 0;
        while (done < len) {
            ssize_t w = pwrite(s->fd, c + done, len - done, (off_t)(s->n + done));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            done += (size_t)w;
        }
        break;
    }
    }
    s->n += len;
    return 0;
}

int objstore_sink_reset(struct objstore_sink *s)
{
    s->n = 0;
    if (s->kind == SINK_BUF)
        buf_setlen(s->buf, s->base);
    else if (s->kind == SINK_FD && ftruncate(s->fd, 0) < 0)
        return -errno;
    return 0;
}

/* ---- lists ---- */

void objstore_list_push(struct objstore_list *l, char *key, uint64_t size, int64_t mtime_ms)
{
    /* capacity grows in powers of two: n is a power of two when full */
    if (l->n == 0)
        l->entries = xrealloc(l->entries, 16 * sizeof(*l->entries));
    else if (l->n >= 16 && (l->n & (l->n - 1)) == 0)
        l->entries = xrealloc(l->entries, 2 * l->n * sizeof(*l->entries));
    l->entries[l->n].key = key;
    l->entries[l->n].size = size;
    l->entries[l->n].mtime_ms = mtime_ms;
    l->n++;
}

void objstore_list_release(struct objstore_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->entries[i].key);
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct objstore_entry *x = a, *y = b;
    return strcmp(x->key, y->key);
}

/* ---- keys ---- */

/* Validates key and returns prefix+key (caller frees) in *ret_full. */
static int full_key(struct objstore *os, const char *what, const char *key, bool allow_empty,
                    char **ret_full, struct err *e)
{
    *ret_full = NULL;
    if (!key)
        return err_set(e, FLOE_EBADREQ, "objstore %s: key is NULL", what);
    size_t n = strlen(key);
    if (n == 0 && !allow_empty)
        return err_set(e, FLOE_EBADREQ, "objstore %s: empty key", what);
    if (n + strlen(os->prefix) > OBJSTORE_KEY_MAX)
        return err_set(e, FLOE_EBADREQ, "objstore %s: key '%.64s...' longer than %d bytes with prefix",
                       what, key, OBJSTORE_KEY_MAX);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return err_set(e, FLOE_EBADREQ, "objstore %s: key '%s' has a control character at byte %zu",
                           what, key, (size_t)(p - (const unsigned char *)key));
    *ret_full = xasprintf("%s%s", os->prefix, key);
    return 0;
}

/* ---- operations ---- */

static int put_src(struct objstore *os, const char *key, const struct objstore_src *src,
                   struct err *e)
{
    char *fk = NULL;
    int r = full_key(os, "put", key, false, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.put");
    if (r < 0) {
        err_set(e, r, "objstore put '%s': injected fault", key);
        goto out;
    }
    r = os->drv->put(os, fk, src, e);
    if (r < 0)
        goto out;
    r = FAULT_POINT("objstore.put.after");
    if (r < 0)
        err_set(e, r, "objstore put '%s': injected fault after the put", key);
out:
    free(fk);
    return r;
}

int objstore_put(struct objstore *os, const char *key, const void *data, size_t len, struct err *e)
{
    if (!data && len)
        return err_set(e, FLOE_EBADREQ, "objstore put '%s': no data for %zu bytes", key ? key : "", len);
    struct objstore_src src = {.mem = data ? data : "", .fd = -1, .len = len};
    return put_src(os, key, &src, e);
}

int objstore_put_file(struct objstore *os, const char *key, const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(e, errno, "objstore put '%s': open %s", key ? key : "", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int r = err_errno(e, errno, "objstore put '%s': stat %s", key ? key : "", path);
        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, FLOE_EBADREQ, "objstore put '%s': %s is not a regular file",
                       key ? key : "", path);
    }
    struct objstore_src src = {.mem = NULL, .fd = fd, .len = (uint64_t)st.st_size};
    int r = put_src(os, key, &src, e);
    close(fd);
    return r;
}

static int get_sink(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                    struct objstore_sink *sink, struct err *e)
{
    char *fk = NULL;
    int r = full_key(os, "get", key, false, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.get");
    if (r < 0) {
        err_set(e, r, "objstore get '%s': injected fault", key);
        goto out;
    }
    if (len != OBJSTORE_TO_END && off > UINT64_MAX - len) {
        r = err_set(e, FLOE_EBADREQ, "objstore get '%s': range overflows", key);
        goto out;
    }
    if (len == 0) {
        struct objstore_info info;
        r = os->drv->head(os, fk, &info, e);
        if (r == 0 && off > info.size)
            r = err_set(e, FLOE_EBADREQ, "objstore get '%s': offset %" PRIu64
                        " past the end (size %" PRIu64 ")", key, off, info.size);
        goto out;
    }
    r = os->drv->get(os, fk, off, len, sink, e);
    if (r == 0 && len != OBJSTORE_TO_END && sink->n != len)
        r = err_set(e, FLOE_ETRANSIENT, "objstore get '%s': got %" PRIu64 " of %" PRIu64 " bytes",
                    key, sink->n, len);
out:
    free(fk);
    return r;
}

int objstore_get(struct objstore *os, const char *key, uint64_t off, uint64_t len, void *dst,
                 struct err *e)
{
    if (len == OBJSTORE_TO_END)
        return err_set(e, FLOE_EBADREQ, "objstore get '%s': OBJSTORE_TO_END needs objstore_get_buf",
                       key ? key : "");
    struct objstore_sink s;
    objstore_sink_mem(&s, dst, len);
    return get_sink(os, key, off, len, &s, e);
}

int objstore_get_buf(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                     struct buf *out, struct err *e)
{
    struct objstore_sink s;
    size_t base = out->len;
    objstore_sink_buf(&s, out);
    int r = get_sink(os, key, off, len, &s, e);
    if (r < 0)
        buf_setlen(out, base);
    return r;
}

int objstore_get_tail(struct objstore *os, const char *key, uint64_t n, struct buf *out,
                      uint64_t *ret_size, struct err *e)
{
    char *fk = NULL;
    size_t base = out->len;
    int r = full_key(os, "get", key, false, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.get");
    if (r < 0) {
        err_set(e, r, "objstore get '%s': injected fault", key);
        goto out;
    }
    struct objstore_sink s;
    objstore_sink_buf(&s, out);
    uint64_t size = 0;
    if (n == 0) {
        struct objstore_info info;
        r = os->drv->head(os, fk, &info, e);
        size = info.size;
    } else {
        r = os->drv->get_tail(os, fk, n, &s, &size, e);
        if (r == 0 && s.n != (n < size ? n : size))
            r = err_set(e, FLOE_ETRANSIENT, "objstore get '%s': got %" PRIu64 " bytes of the last %"
                        PRIu64, key, s.n, n);
    }
    if (r == 0 && ret_size)
        *ret_size = size;
out:
    if (r < 0)
        buf_setlen(out, base);
    free(fk);
    return r;
}

int objstore_get_file(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                      const char *path, struct err *e)
{
    struct buf tmp = BUF_INIT;
    struct buf dir = BUF_INIT;
    int fd = -1;
    int r;
    const char *slash = strrchr(path, '/');
    if (slash)
        buf_append(&dir, path, (size_t)(slash - path) + (slash == path));
    else
        buf_puts(&dir, ".");
    buf_printf(&tmp, "%s.tmp.XXXXXX", path);
    fd = mkostemp(tmp.data, O_CLOEXEC);
    if (fd < 0) {
        r = err_errno(e, errno, "objstore get '%s': create temp file for %s", key ? key : "", path);
        goto out;
    }
    struct objstore_sink s;
    objstore_sink_fd(&s, fd);
    r = get_sink(os, key, off, len, &s, e);
    if (r < 0)
        goto out;
    if (fsync(fd) < 0) {
        r = err_errno(e, errno, "objstore get '%s': fsync %s", key, tmp.data);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = err_errno(e, errno, "objstore get '%s': close %s", key, tmp.data);
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path) < 0) {
        r = err_errno(e, errno, "objstore get '%s': rename to %s", key, path);
        goto out;
    }
    int dfd = open(dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) < 0)
            r = err_errno(e, errno, "objstore get '%s': fsync directory of %s", key, path);
        close(dfd);
    }
    buf_release(&tmp);
out:
    if (fd >= 0)
        close(fd);
    if (tmp.data)
        unlink(tmp.data);
    buf_release(&tmp);
    buf_release(&dir);
    return r;
}

int objstore_get_cond(struct objstore *os, const char *key, const char *etag, struct buf *out,
                      struct objstore_info *ret_info, struct err *e)
{
    char *fk = NULL;
    size_t base = out->len;
    int r = full_key(os, "get", key, false, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.get");
    if (r < 0) {
        err_set(e, r, "objstore get '%s': injected fault", key);
        goto out;
    }
    struct objstore_sink s;
    struct objstore_info info;
    memset(&info, 0, sizeof(info));
    objstore_sink_buf(&s, out);
    r = os->drv->get_cond(os, fk, etag && *etag ? etag : NULL, &s, &info, e);
    if (r == 0 && s.n != info.size)
        r = err_set(e, FLOE_ETRANSIENT, "objstore get '%s': got %" PRIu64 " of %" PRIu64 " bytes",
                    key, s.n, info.size);
    if (r == 0 && ret_info)
        *ret_info = info;
out:
    if (r < 0)
        buf_setlen(out, base);
    free(fk);
    return r;
}

int objstore_head(struct objstore *os, const char *key, struct objstore_info *ret_info,
                  struct err *e)
{
    char *fk = NULL;
    int r = full_key(os, "head", key, false, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.head");
    if (r < 0) {
        err_set(e, r, "objstore head '%s': injected fault", key);
        goto out;
    }
    struct objstore_info info;
    memset(&info, 0, sizeof(info));
    r = os->drv->head(os, fk, &info, e);
    if (r == 0 && ret_info)
        *ret_info = info;
out:
    free(fk);
    return r;
}

int objstore_list(struct objstore *os, const char *prefix, struct objstore_list *ret,
                  struct err *e)
{
    char *fk = NULL;
    ret->entries = NULL;
    ret->n = 0;
    int r = full_key(os, "list", prefix ? prefix : "", true, &fk, e);
    if (r < 0)
        return r;
    r = FAULT_POINT("objstore.list");
    if (r < 0) {
        err_set(e, r, "objstore list '%s': injected fault", prefix ? prefix : "");
        goto out;
    }
    r = os->drv->list(os, fk, ret, e);
    if (r < 0) {
        objstore_list_release(ret);
        goto out;
    }
    /* strip the resource prefix; drop anything outside it (defensive) */
    size_t pl = strlen(os->prefix), fl = strlen(fk), j = 0;
    for (size_t i = 0; i < ret->n; i++) {
        char *k = ret->entries[i].key;
        if (strncmp(k, fk, fl) != 0 || k[pl] == '\0') {
            free(k);
            continue;
        }
        ret->entries[j] = ret->entries[i];
        ret->entries[j].key = xstrdup(k + pl);
        free(k);
        j++;
    }
    ret->n = j;
    if (j == 0) {
        free(ret->entries);
        ret->entries = NULL;
    } else {
        qsort(ret->entries, ret->n, sizeof(ret->entries[0]), entry_cmp);
    }
out:
    free(fk);
    return r;
}

int objstore_delete(struct objstore *os, const char *key, struct err *e)
{
    return objstore_delete_many(os, &key, 1, NULL, e);
}

int objstore_delete_many(struct objstore *os, const char *const *keys, size_t n,
                         int *ret_results, struct err *e)
{
    char **fks = xcalloc(n ? n : 1, sizeof(char *));
    int *res = ret_results ? ret_results : xcalloc(n ? n : 1, sizeof(int));
    int r = 0, first = 0;
    size_t nfail = 0, first_i = 0;
    struct err first_err;
    err_clear(&first_err);

    for (size_t i = 0; i < n; i++) {
        res[i] = full_key(os, "delete", keys[i], false, &fks[i], nfail ? NULL : &first_err);
        if (res[i] < 0 && nfail++ == 0) {
            first = res[i];
            first_i = i;
        }
    }
    r = FAULT_POINT("objstore.delete");
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            if (res[i] == 0)
                res[i] = r;
        err_set(e, r, "objstore delete: injected fault");
        goto out;
    }
    for (size_t start = 0; start < n;) {
        /* a batch of up to DELETE_BATCH valid keys */
        const char *batch[DELETE_BATCH];
        size_t idx[DELETE_BATCH];
        size_t m = 0, i = start;
        for (; i < n && m < DELETE_BATCH; i++) {
            if (res[i] < 0)
                continue;
            batch[m] = fks[i];
            idx[m] = i;
            m++;
        }
        start = i;
        if (m == 0)
            continue;
        int bres[DELETE_BATCH];
        struct err be;
        err_clear(&be);
        int br = os->drv->delete_batch(os, batch, m, bres, &be);
        for (size_t k = 0; k < m; k++) {
            res[idx[k]] = br < 0 && bres[k] == 0 ? br : bres[k];
            if (res[idx[k]] < 0) {
                if (nfail++ == 0 || idx[k] < first_i) {
                    first = res[idx[k]];
                    first_i = idx[k];
                    first_err = be;
                }
            } else {
                objstore_count_deleted(os, 1);
            }
        }
    }
    r = 0;
    if (nfail) {
        r = first;
        if (first_err.code)
            err_set(e, r, "objstore delete: %zu of %zu keys failed, first '%s': %s", nfail, n,
                    keys[first_i] ? keys[first_i] : "(null)", err_msg(&first_err));
        else
            err_set(e, r, "objstore delete: %zu of %zu keys failed, first '%s': %s", nfail, n,
                    keys[first_i] ? keys[first_i] : "(null)", err_str(r));
    }
out:
    for (size_t i = 0; i < n; i++)
        free(fks[i]);
    free(fks);
    if (!ret_results)
        free(res);
    return r;
}
