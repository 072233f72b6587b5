/*
 * objstore_local: the object store on a directory (the embedded default,
 * also for NFS-style mounts shared by all BEs).
 *
 * A key maps to a path below the root, one directory per '/'-separated
 * component. Components are escaped so that every key maps to exactly one
 * path inside the root and back: '%' becomes "%25", an empty component
 * becomes "%", "." becomes "%2E" and ".." becomes "%2E%2E". Nothing a key
 * contains can therefore name a parent directory, and temp files (named
 * "%tmp.*", which no escaped name can be) never show up in listings.
 *
 * Puts are atomic: write a temp file in the target directory, fsync,
 * rename over the target, fsync the directory. The etag is derived from
 * inode, size and mtime in nanoseconds; a rename gives every put a new
 * inode, so the etag changes with every put. Limitation of a directory: a
 * key cannot also be a "directory" of other keys ("a" and "a/b" cannot both
 * exist); such a put fails with FLOE_EBADREQ.
 */
#define LOG_MODULE "objstore"

#include <dirent.h>
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
#include "log.h"
#include "objstore_int.h"

#define TMP_PREFIX "%tmp."
#define COPY_CHUNK (1u << 20)

struct local {
    char *root;   /* absolute or as given, without trailing '/' */
};

static struct local *L(struct objstore *os) { return os->impl; }

/* Appends the escaped form of one key component. */
static void escape_component(struct buf *out, const char *c, size_t n)
{
    if (n == 0) {
        buf_putc(out, '%');
        return;
    }
    if (n == 1 && c[0] == '.') {
        buf_puts(out, "%2E");
        return;
    }
    if (n == 2 && c[0] == '.' && c[1] == '.') {
        buf_puts(out, "%2E%2E");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i] == '%')
            buf_puts(out, "%25");
        else
            buf_putc(out, c[i]);
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends the key component a file name stands for; false if the name is not ours. */
static bool unescape_component(struct buf *out, const char *name)
{
    if (!strcmp(name, "%"))
        return true;
    for (const char *p = name; *p; p++) {
        if (*p != '%') {
            buf_putc(out, *p);
            continue;
        }
        int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
        if (h < 0 || l < 0)
            return false;
        buf_putc(out, (char)(h * 16 + l));
        p += 2;
    }
    return true;
}

/* root + "/" + escaped key into out; ret_dirlen (may be NULL) = length of the parent dir. */
static int key_path(struct local *l, const char *key, struct buf *out, size_t *ret_dirlen,
                    struct err *e)
{
    buf_reset(out);
    buf_puts(out, l->root);
    size_t dirlen = out->len;
    const char *c = key;
    for (;;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        buf_putc(out, '/');
        size_t before = out->len;
        escape_component(out, c, n);
        if (out->len - before > NAME_MAX)
            return err_set(e, FLOE_EBADREQ, "objstore local: key '%s' has a component longer than %d bytes",
                           key, NAME_MAX);
        if (!slash)
            break;
        dirlen = out->len;
        c = slash + 1;
    }
    if (ret_dirlen)
        *ret_dirlen = dirlen;
    return 0;
}

static int mkdirs(char *path, size_t len, size_t rootlen)
{
    /* path[0..len) is a directory to create; components after rootlen */
    char save = path[len];
    path[len] = '\0';
    struct stat st;
    int r = 0;
    if (stat(path, &st) == 0) {
        r = S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        goto out;
    }
    for (size_t i = rootlen + 1; i <= len; i++) {
        if (i != len && path[i] != '/')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            r = -errno;
            path[i] = c;
            goto out;
        }
        path[i] = c;
    }
out:
    path[len] = save;
    return r;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int errno_class(int err)
{
    if (err == ENOENT)
        return FLOE_ENOTFOUND;
    if (err == EACCES || err == EPERM)
        return FLOE_EACCESS;
    if (err == ENOTDIR || err == EISDIR || err == ENAMETOOLONG)
        return FLOE_EBADREQ;
    return -err;
}

static int local_put(struct objstore *os, const char *key, const struct objstore_src *src,
                     struct err *e)
{
    struct local *l = L(os);
    struct buf path = BUF_INIT, tmp = BUF_INIT;
    size_t dirlen;
    int fd = -1, r;
    char *chunk = NULL;
    objstore_count_request(os, OBJSTORE_OP_PUT, false, false);
    r = key_path(l, key, &path, &dirlen, e);
    if (r < 0)
        goto out;
    /* a concurrent delete may remove an empty parent between mkdir and create: retry */
    for (int attempt = 0;; attempt++) {
        r = mkdirs(path.data, dirlen, strlen(l->root));
        if (r < 0) {
            r = err_set(e, errno_class(-r), "objstore local put '%s': create directories: %s", key,
                        strerror(-r));
            goto out;
        }
        buf_reset(&tmp);
        buf_append(&tmp, path.data, dirlen);
        buf_puts(&tmp, "/" TMP_PREFIX "XXXXXX");
        fd = mkostemp(tmp.data, O_CLOEXEC);
        if (fd >= 0)
            break;
        if (errno != ENOENT || attempt >= 5) {
            r = err_set(e, errno_class(errno), "objstore local put '%s': create temp file: %s", key,
                        strerror(errno));
            goto out;
        }
    }
    if (src->mem) {
        const char *p = src->mem;
        uint64_t done = 0;
        while (done < src->len) {
            ssize_t w = write(fd, p + done, src->len - done);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                r = err_errno(e, errno, "objstore local put '%s': write", key);
                goto out;
            }
            done += (uint64_t)w;
        }
    } else {
        chunk = xmalloc(COPY_CHUNK);
        uint64_t done = 0;
        while (done < src->len) {
            size_t want = src->len - done < COPY_CHUNK ? (size_t)(src->len - done) : COPY_CHUNK;
            ssize_t n = pread(src->fd, chunk, want, (off_t)done);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                r = err_errno(e, errno, "objstore local put '%s': read source", key);
                goto out;
            }
            if (n == 0) {
                r = err_set(e, FLOE_EBADREQ, "objstore local put '%s': source file shrank to %" PRIu64
                            " bytes while being read", key, done);
                goto out;
            }
            const char *p = chunk;
            size_t left = (size_t)n;
            while (left) {
                ssize_t w = write(fd, p, left);
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    r = err_errno(e, errno, "objstore local put '%s': write", key);
                    goto out;
                }
                p += w;
                left -= (size_t)w;
            }
            done += (uint64_t)n;
        }
    }
    if (fsync(fd) < 0) {
        r = err_errno(e, errno, "objstore local put '%s': fsync", key);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = err_errno(e, errno, "objstore local put '%s': close", key);
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path.data) < 0) {
        r = err_set(e, errno_class(errno), "objstore local put '%s': rename: %s%s", key,
                    strerror(errno), errno == EISDIR ? " (other keys live under this key)" : "");
        goto out;
    }
    buf_setlen(&tmp, 0);
    path.data[dirlen] = '\0';
    r = fsync_dir(path.data);
    if (r < 0) {
        r = err_errno(e, -r, "objstore local put '%s': fsync directory", key);
        goto out;
    }
    objstore_count_bytes(os, src->len, 0);
out:
    if (fd >= 0)
        close(fd);
    if (tmp.len)
        unlink(tmp.data);
    if (r < 0)
        __atomic_fetch_add(&os->stats.errors[OBJSTORE_OP_PUT], 1, __ATOMIC_RELAXED);
    free(chunk);
    buf_release(&tmp);
    buf_release(&path);
    return r;
}

static void fill_info(const struct stat *st, struct objstore_info *info)
{
    info->size = (uint64_t)st->st_size;
    info->mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    snprintf(info->etag, sizeof(info->etag), "%" PRIx64 "-%" PRIx64 "-%" PRIx64 "%09ld",
             (uint64_t)st->st_ino, (uint64_t)st->st_size, (uint64_t)st->st_mtim.tv_sec,
             (long)st->st_mtim.tv_nsec);
}

/* Opens key for reading; fills st. */
static int open_key(struct objstore *os, const char *what, const char *key, struct stat *st,
                    int *ret_fd, struct err *e)
{
    struct buf path = BUF_INIT;
    int r = key_path(L(os), key, &path, NULL, e);
    *ret_fd = -1;
    if (r < 0)
        goto out;
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno == ENOTDIR ? ENOENT : errno;
        r = err_set(e, errno_class(err), "objstore local %s '%s': %s", what, key,
                    err == ENOENT ? "no such object" : strerror(err));
        goto out;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        r = err_set(e, FLOE_ENOTFOUND, "objstore local %s '%s': no such object", what, key);
        close(fd);
        goto out;
    }
    *ret_fd = fd;
out:
    buf_release(&path);
    return r;
}

static int copy_range(struct objstore *os, int fd, const char *key, uint64_t off, uint64_t len,
                      struct objstore_sink *sink, struct err *e)
{
    char *chunk = xmalloc(COPY_CHUNK);
    int r = 0;
    uint64_t done = 0;
    while (done < len) {
        size_t want = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = err_errno(e, errno, "objstore local get '%s': read", key);
            break;
        }
        if (n == 0) {
            r = err_set(e, FLOE_ETRANSIENT, "objstore local get '%s': object shrank while read", key);
            break;
        }
        r = objstore_sink_write(sink, chunk, (size_t)n);
        if (r < 0) {
            r = err_errno(e, -r, "objstore local get '%s': write destination", key);
            break;
        }
        done += (uint64_t)n;
    }
    free(chunk);
    objstore_count_bytes(os, 0, done);
    return r;
}

static int local_get(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                     struct objstore_sink *sink, struct err *e)
{
    struct stat st;
    int fd;
    int r = open_key(os, "get", key, &st, &fd, e);
    if (r == 0) {
        uint64_t size = (uint64_t)st.st_size;
        if (off > size || (len != OBJSTORE_TO_END && len > size - off)) {
            r = err_set(e, FLOE_EBADREQ, "objstore local get '%s': range %" PRIu64 "+%" PRIu64
                        " past the end (size %" PRIu64 ")", key, off,
                        len == OBJSTORE_TO_END ? 0 : len, size);
        } else {
            r = copy_range(os, fd, key, off, len == OBJSTORE_TO_END ? size - off : len, sink, e);
        }
        close(fd);
    }
    objstore_count_request(os, OBJSTORE_OP_GET, false, r < 0);
    return r;
}

static int local_get_tail(struct objstore *os, const char *key, uint64_t n,
                          struct objstore_sink *sink, uint64_t *ret_size, struct err *e)
{
    struct stat st;
    int fd;
    int r = open_key(os, "get", key, &st, &fd, e);
    if (r == 0) {
        uint64_t size = (uint64_t)st.st_size;
        uint64_t take = n < size ? n : size;
        *ret_size = size;
        r = copy_range(os, fd, key, size - take, take, sink, e);
        close(fd);
    }
    objstore_count_request(os, OBJSTORE_OP_GET, false, r < 0);
    return r;
}

static int local_get_cond(struct objstore *os, const char *key, const char *etag,
                          struct objstore_sink *sink, struct objstore_info *info, struct err *e)
{
    struct stat st;
    int fd;
    int r = open_key(os, "get", key, &st, &fd, e);
    if (r == 0) {
        fill_info(&st, info);
        if (etag && !strcmp(etag, info->etag))
            r = OBJSTORE_NOT_MODIFIED;
        else
            r = copy_range(os, fd, key, 0, info->size, sink, e);
        close(fd);
    }
    objstore_count_request(os, OBJSTORE_OP_GET, false, r < 0);
    return r;
}

static int local_head(struct objstore *os, const char *key, struct objstore_info *info,
                      struct err *e)
{
    struct buf path = BUF_INIT;
    struct stat st;
    int r = key_path(L(os), key, &path, NULL, e);
    if (r == 0) {
        int err = 0;
        if (stat(path.data, &st) < 0)
            err = errno == ENOTDIR ? ENOENT : errno;
        else if (!S_ISREG(st.st_mode))
            err = ENOENT;
        if (err) {
            r = err_set(e, errno_class(err), "objstore local head '%s': %s", key,
                        err == ENOENT ? "no such object" : strerror(err));
        } else {
            fill_info(&st, info);
        }
    }
    objstore_count_request(os, OBJSTORE_OP_HEAD, false, r < 0);
    buf_release(&path);
    return r;
}

/*
 * Walks dir (file system path) whose keys start with keypfx (decoded),
 * pushing regular files whose key starts with want.
 */
static int walk(struct objstore *os, struct buf *dir, struct buf *keypfx, const char *want,
                struct objstore_list *list, struct err *e)
{
    DIR *d = opendir(dir->data);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return err_errno(e, errno, "objstore local list: open directory %s", dir->data);
    }
    size_t wl = strlen(want);
    size_t dl = dir->len, kl = keypfx->len;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
            continue;
        buf_setlen(keypfx, kl);
        if (!unescape_component(keypfx, name))
            continue;
        buf_setlen(dir, dl);
        buf_putc(dir, '/');
        buf_puts(dir, name);
        struct stat st;
        if (lstat(dir->data, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            buf_putc(keypfx, '/');
            /* descend only when keys below can match want */
            size_t n = keypfx->len < wl ? keypfx->len : wl;
            if (memcmp(keypfx->data, want, n) == 0) {
                r = walk(os, dir, keypfx, want, list, e);
                if (r < 0)
                    break;
            }
        } else if (S_ISREG(st.st_mode)) {
            if (keypfx->len >= wl && memcmp(keypfx->data, want, wl) == 0 &&
                strlen(keypfx->data) == keypfx->len)
                objstore_list_push(list, xstrdup(keypfx->data), (uint64_t)st.st_size,
                                   (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
        }
    }
    closedir(d);
    buf_setlen(dir, dl);
    buf_setlen(keypfx, kl);
    return r;
}

static int local_list(struct objstore *os, const char *prefix, struct objstore_list *list,
                      struct err *e)
{
    struct local *l = L(os);
    struct buf dir = BUF_INIT, keypfx = BUF_INIT;
    int r = 0;
    /* start at the deepest directory fully named by the prefix */
    const char *last = strrchr(prefix, '/');
    buf_puts(&dir, l->root);
    if (last) {
        size_t n = (size_t)(last - prefix);
        char *dirkey = xstrndup(prefix, n);
        r = key_path(l, dirkey, &dir, NULL, e);
        free(dirkey);
        if (r < 0) {
            /* a component too long for a file name: nothing can be there */
            r = 0;
            err_clear(e);
            goto out;
        }
        buf_append(&keypfx, prefix, n + 1);
    }
    r = walk(os, &dir, &keypfx, prefix, list, e);
out:
    objstore_count_request(os, OBJSTORE_OP_LIST, false, r < 0);
    buf_release(&dir);
    buf_release(&keypfx);
    return r;
}

static int local_delete_batch(struct objstore *os, const char *const *keys, size_t n, int *results,
                              struct err *e)
{
    struct local *l = L(os);
    struct buf path = BUF_INIT;
    int r = 0;
    size_t rootlen = strlen(l->root);
    for (size_t i = 0; i < n; i++) {
        size_t dirlen;
        results[i] = key_path(l, keys[i], &path, &dirlen, e);
        if (results[i] < 0) {
            if (results[i] == FLOE_EBADREQ) {
                /* a name too long cannot exist: deleted */
                results[i] = 0;
                err_clear(e);
            }
            continue;
        }
        if (unlink(path.data) < 0 && errno != ENOENT && errno != ENOTDIR) {
            results[i] = err_set(e, errno_class(errno), "objstore local delete '%s': %s", keys[i],
                                 strerror(errno));
            if (r == 0)
                r = results[i];
            continue;
        }
        /* remove parents left empty, up to the root; failure is fine */
        while (dirlen > rootlen) {
            path.data[dirlen] = '\0';
            if (rmdir(path.data) < 0)
                break;
            char *s = strrchr(path.data, '/');
            if (!s)
                break;
            dirlen = (size_t)(s - path.data);
        }
    }
    objstore_count_request(os, OBJSTORE_OP_DELETE, false, r < 0);
    buf_release(&path);
    return r;
}

static void local_close(struct objstore *os)
{
    struct local *l = L(os);
    if (l) {
        free(l->root);
        free(l);
    }
}

static const struct objstore_driver local_driver = {
    .name = "local",
    .put = local_put,
    .get = local_get,
    .get_tail = local_get_tail,
    .get_cond = local_get_cond,
    .head = local_head,
    .list = local_list,
    .delete_batch = local_delete_batch,
    .close = local_close,
};

int objstore_local_open(struct objstore *os, const struct objstore_conf *conf, struct err *e)
{
    if (!conf->root || !*conf->root)
        return err_set(e, FLOE_ECONFIG, "objstore config root: required for type local");
    size_t n = strlen(conf->root);
    while (n > 1 && conf->root[n - 1] == '/')
        n--;
    char *root = xstrndup(conf->root, n);
    struct buf tmp = BUF_INIT;
    buf_puts(&tmp, root);
    int r = mkdirs(tmp.data, tmp.len, 0);
    buf_release(&tmp);
    if (r < 0) {
        r = err_set(e, FLOE_ECONFIG, "objstore config root: cannot create directory %s: %s", root,
                    strerror(-r));
        free(root);
        return r;
    }
    struct local *l = xcalloc(1, sizeof(*l));
    l->root = root;
    os->impl = l;
    os->drv = &local_driver;
    return 0;
}
