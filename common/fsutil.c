/*
 * fsutil: durable file replacement, bounded whole-file reads, safe path
 * joins and the small I/O loops everything else builds on.
 *
 * fs_write_atomic guarantees that a reader (or a restart after a crash) sees
 * the old content or the new content, never a mix, and that a failed call
 * leaves no temp file behind. The temp file lives next to the target (same
 * file system, so rename is atomic) and is named "<path>.tmp.<pid>.<n>".
 */
#include "fsutil.h"

#include "buf.h"
#include "err.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_uint tmp_counter;

/* Writes all of data: at off with pwrite when positional, else with write. */
static int write_all(int fd, const void *data, size_t len, off_t off, bool positional)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = positional ? pwrite(fd, p, len, off) : write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_write_full(int fd, const void *data, size_t len)
{
    return write_all(fd, data, len, 0, false);
}

int fs_pwrite_full(int fd, const void *data, size_t len, off_t off)
{
    return write_all(fd, data, len, off, true);
}

int fs_pread_full(int fd, void *data, size_t len, off_t off)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return FLOE_ECORRUPT;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Directory part of path: "." for a bare name, "/" for "/name". Caller frees. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

int fs_fsync_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(e, errno, "open directory %s", dir);
    int r = 0;
    while (fsync(fd) != 0) {
        if (errno == EINTR)
            continue;
        r = err_errno(e, errno, "fsync directory %s", dir);
        break;
    }
    close(fd);
    return r;
}

int fs_write_atomic(const char *path, const void *data, size_t len, struct err *e)
{
    char *tmp = NULL;
    char *dir = NULL;
    int fd = -1;
    bool renamed = false;
    int r;

    if (!path || !*path)
        return err_set(e, FLOE_EBADINPUT, "atomic write: empty path");
    for (int attempt = 0;; attempt++) {
        free(tmp);
        tmp = xasprintf("%s.tmp.%d.%u", path, (int)getpid(), atomic_fetch_add(&tmp_counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0)
            break;
        if (errno != EEXIST || attempt >= 100) {
            r = err_errno(e, errno, "atomic write %s: create temp file %s", path, tmp);
            free(tmp);
            tmp = NULL;
            goto out;
        }
    }

    r = FAULT_POINT("fs.atomic.write");
    if (r == 0)
        r = fs_write_full(fd, data, len);
    if (r < 0) {
        r = err_set(e, r, "atomic write %s: write temp file: %s", path, err_str(r));
        goto out;
    }
    r = FAULT_POINT("fs.atomic.fsync");
    if (r == 0) {
        while (fsync(fd) != 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
    }
    if (r < 0) {
        r = err_set(e, r, "atomic write %s: fsync temp file: %s", path, err_str(r));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        r = err_errno(e, errno, "atomic write %s: close temp file", path);
        goto out;
    }
    fd = -1;
    r = FAULT_POINT("fs.atomic.rename");
    if (r == 0 && rename(tmp, path) != 0)
        r = -errno;
    if (r < 0) {
        r = err_set(e, r, "atomic write %s: rename temp file: %s", path, err_str(r));
        goto out;
    }
    renamed = true;
    dir = dir_of(path);
    r = FAULT_POINT("fs.atomic.dirsync");
    if (r < 0) {
        r = err_set(e, r, "atomic write %s: fsync directory %s: %s", path, dir, err_str(r));
        goto out;
    }
    r = fs_fsync_dir(dir, e);
    if (r < 0)
        err_prefix(e, "atomic write %s", path);
out:
    if (fd >= 0)
        close(fd);
    if (tmp && !renamed)
        unlink(tmp);
    free(tmp);
    free(dir);
    return r;
}

int fs_read_file(const char *path, struct buf *out, size_t max, struct err *e)
{
    size_t start = out->len;
    int r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(e, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        r = err_errno(e, errno, "stat %s", path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        r = err_errno(e, EISDIR, "read %s", path);
        goto out;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        r = err_set(e, FLOE_ELIMIT, "read %s: file is %llu bytes, more than the limit of %zu",
                    path, (unsigned long long)st.st_size, max);
        goto out;
    }
    for (;;) {
        size_t room = 65536;
        buf_grow(out, room);
        ssize_t n = read(fd, out->data + out->len, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = err_errno(e, errno, "read %s", path);
            goto out;
        }
        if (n == 0)
            break;
        /* the file may grow while we read it; the limit still holds */
        if (out->len - start + (size_t)n > max) {
            r = err_set(e, FLOE_ELIMIT, "read %s: file is larger than the limit of %zu", path, max);
            goto out;
        }
        buf_setlen(out, out->len + (size_t)n);
    }
out:
    if (r < 0 && out->data)
        buf_setlen(out, start);
    close(fd);
    return r;
}

int fs_path_join_n(struct buf *out, const char *base, const char *rel, size_t rel_len,
                   struct err *e)
{
    if (!base || !*base)
        return err_set(e, FLOE_EBADINPUT, "path join: empty base directory");
    if (!rel || rel_len == 0)
        return err_set(e, FLOE_EBADINPUT, "path join under %s: empty relative path", base);
    if (memchr(rel, '\0', rel_len))
        return err_set(e, FLOE_EBADINPUT, "path join under %s: relative path '%s' contains a NUL byte",
                       base, rel);
    if (rel[0] == '/')
        return err_set(e, FLOE_EBADINPUT, "path join under %s: '%.*s' is absolute", base,
                       (int)rel_len, rel);
    size_t i = 0;
    while (i <= rel_len) {
        const char *c = rel + i;
        const char *slash = memchr(c, '/', rel_len - i);
        size_t clen = slash ? (size_t)(slash - c) : rel_len - i;
        if (clen == 0)
            return err_set(e, FLOE_EBADINPUT, "path join under %s: '%.*s' has an empty component",
                           base, (int)rel_len, rel);
        if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return err_set(e, FLOE_EBADINPUT, "path join under %s: '%.*s' has a '%.*s' component",
                           base, (int)rel_len, rel, (int)clen, c);
        i += clen + 1;
    }
    buf_reset(out);
    buf_puts(out, base);
    if (base[strlen(base) - 1] != '/')
        buf_putc(out, '/');
    buf_append(out, rel, rel_len);
    return 0;
}

int fs_path_join(struct buf *out, const char *base, const char *rel, struct err *e)
{
    return fs_path_join_n(out, base, rel, rel ? strlen(rel) : 0, e);
}

int fs_mkdir_p(const char *path, mode_t mode, struct err *e)
{
    if (!path || !*path)
        return err_set(e, FLOE_EBADINPUT, "mkdir: empty path");
    char *p = xstrdup(path);
    int r = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            r = err_errno(e, errno, "mkdir %s", p);
            goto out;
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        r = err_errno(e, errno, "mkdir %s", path);
        goto out;
    }
    if (!S_ISDIR(st.st_mode))
        r = err_errno(e, ENOTDIR, "mkdir %s", path);
out:
    free(p);
    return r;
}

/* Removes name (relative to the open directory parent); shown is its full
 * path for messages and is restored to its original length on return. */
static int remove_at(int parent, const char *name, struct buf *shown, struct err *e)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return err_errno(e, errno, "remove %s", buf_cstr(shown));
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_errno(e, errno, "open directory %s", buf_cstr(shown));
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        return err_errno(e, saved, "open directory %s", buf_cstr(shown));
    }
    int r = 0;
    size_t base_len = shown->len;
    struct dirent *de;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                r = err_errno(e, errno, "read directory %s", buf_cstr(shown));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        buf_putc(shown, '/');
        buf_puts(shown, de->d_name);
        r = remove_at(dirfd(d), de->d_name, shown, e);
        buf_setlen(shown, base_len);
        if (r < 0)
            break;
    }
    closedir(d);
    if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        r = err_errno(e, errno, "remove directory %s", buf_cstr(shown));
    return r;
}

int fs_remove_all(const char *path, struct err *e)
{
    if (!path || !*path)
        return err_set(e, FLOE_EBADINPUT, "remove: empty path");
    struct buf shown = BUF_INIT;
    buf_puts(&shown, path);
    int r = remove_at(AT_FDCWD, path, &shown, e);
    buf_release(&shown);
    return r;
}

int fs_file_size(const char *path, uint64_t *ret_size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    *ret_size = (uint64_t)st.st_size;
    return 0;
}

int64_t fs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
