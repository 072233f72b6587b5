/* io_source: the local-file and in-memory sources and range coalescing. */
#include "io_source.h"

#include "buf.h"
#include "err.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_source {
    struct io_source base;
    int fd;
};

struct mem_source {
    struct io_source base;
    const uint8_t *data;
};

static int check_bounds(struct io_source *s, uint64_t off, size_t len, struct err *e)
{
    if (off > s->size || len > s->size - off)
        return err_set(e, FLOE_ECORRUPT, "%s: read of %zu bytes at %llu is past its size %llu",
                       s->name, len, (unsigned long long)off, (unsigned long long)s->size);
    return 0;
}

static int file_read_at(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    struct file_source *f = (struct file_source *)s;
    int r = check_bounds(s, off, len, e);
    if (r < 0)
        return r;
    r = fs_pread_full(f->fd, out, len, (off_t)off);
    if (r == FLOE_ECORRUPT)
        return err_set(e, r, "%s: file is shorter than %llu bytes", s->name, (unsigned long long)(off + len));
    if (r < 0)
        return err_errno(e, -r, "%s: read at %llu", s->name, (unsigned long long)off);
    return 0;
}

static void file_close(struct io_source *s)
{
    struct file_source *f = (struct file_source *)s;
    close(f->fd);
    free(s->name);
    free(f);
}

static const struct io_source_ops file_ops = { file_read_at, NULL, file_close, NULL };

int io_source_open_file(const char *path, uint64_t size, struct io_source **ret, struct err *e)
{
    *ret = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(e, errno, "open segment %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int r = err_errno(e, errno, "stat %s", path);
        close(fd);
        return r;
    }
    if (size == 0) {
        size = (uint64_t)st.st_size;
    } else if ((uint64_t)st.st_size < size) {
        close(fd);
        return err_set(e, FLOE_ECORRUPT, "segment %s: %llu bytes, its rowset meta says %llu (truncated)",
                       path, (unsigned long long)st.st_size, (unsigned long long)size);
    }
    struct file_source *f = xcalloc(1, sizeof(*f));
    f->base.ops = &file_ops;
    f->base.name = xstrdup(path);
    f->base.size = size;
    f->fd = fd;
    *ret = &f->base;
    return 0;
}

static int mem_read_at(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    int r = check_bounds(s, off, len, e);
    if (r < 0)
        return r;
    memcpy(out, ((struct mem_source *)s)->data + off, len);
    return 0;
}

static void mem_close(struct io_source *s)
{
    free(s->name);
    free(s);
}

static const struct io_source_ops mem_ops = { mem_read_at, NULL, mem_close, NULL };

int io_source_open_mem(const void *data, size_t len, const char *name, struct io_source **ret)
{
    struct mem_source *m = xcalloc(1, sizeof(*m));
    m->base.ops = &mem_ops;
    m->base.name = xstrdup(name);
    m->base.size = len;
    m->data = data;
    *ret = &m->base;
    return 0;
}

int io_source_prefetch(struct io_source *s, const struct io_range *ranges, size_t n, struct err *e)
{
    if (!s->ops->prefetch || n == 0)
        return 0;
    return s->ops->prefetch(s, ranges, n, e);
}

void io_source_close(struct io_source *s)
{
    if (s)
        s->ops->close(s);
}

void io_source_damaged(struct io_source *s)
{
    if (s && s->ops->damaged)
        s->ops->damaged(s);
}

static int range_cmp(const void *a, const void *b)
{
    const struct io_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

size_t io_range_coalesce(struct io_range *r, size_t n, uint64_t gap)
{
    if (n == 0)
        return 0;
    qsort(r, n, sizeof(*r), range_cmp);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t end = r[out].off + r[out].len;
        if (r[i].off <= end + gap) {
            uint64_t nend = r[i].off + r[i].len;
            if (nend > end)
                r[out].len = nend - r[out].off;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}
