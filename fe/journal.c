/* journal: append-only JSON-lines log with per-line crc32c; see journal.h. */
#define LOG_MODULE "journal"
#include "journal.h"

#include "buf.h"
#include "crc32c.h"
#include "err.h"
#include "fault.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_PREFIX_LEN 20 /* {"c":"xxxxxxxx","r": */

struct journal {
    char *path;
    int fd;
    int64_t last_seq;
    int64_t count;
    off_t size;
    bool failed;
    struct buf line;
};

static int fsync_parent(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    int r = fd < 0 || fsync(fd) != 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return r;
}

int journal_open(const char *path, struct journal **ret, struct err *e)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_errno(e, errno, "journal %s: open", path);
    struct journal *j = xcalloc(1, sizeof(*j));
    j->path = xstrdup(path);
    j->fd = fd;
    buf_init(&j->line);
    struct stat st;
    if (fstat(fd, &st) == 0)
        j->size = st.st_size;
    if (fsync_parent(path) < 0) {
        int r = err_errno(e, errno, "journal %s: fsync directory", path);
        journal_close(j);
        return r;
    }
    *ret = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    buf_release(&j->line);
    free(j->path);
    free(j);
}

int64_t journal_last_seq(const struct journal *j)
{
    return j->last_seq;
}

int64_t journal_count(const struct journal *j)
{
    return j->count;
}

bool journal_failed(const struct journal *j)
{
    return j->failed;
}

/* Checks one line (without its '\n'); returns the parsed record or NULL with e set. */
static json_t *parse_line(const char *p, size_t n, struct err *e)
{
    if (n < JOURNAL_PREFIX_LEN + 3 || memcmp(p, "{\"c\":\"", 6) != 0 ||
        memcmp(p + 14, "\",\"r\":", 6) != 0 || p[n - 1] != '}') {
        err_set(e, FLOE_ECORRUPT, "not a journal line");
        return NULL;
    }
    char hex[9];
    memcpy(hex, p + 6, 8);
    hex[8] = '\0';
    char *end;
    unsigned long want = strtoul(hex, &end, 16);
    if (*end != '\0') {
        err_set(e, FLOE_ECORRUPT, "bad checksum field");
        return NULL;
    }
    const char *rec = p + JOURNAL_PREFIX_LEN;
    size_t rlen = n - JOURNAL_PREFIX_LEN - 1;
    uint32_t got = crc32c(0, rec, rlen);
    if (got != (uint32_t)want) {
        err_set(e, FLOE_ECORRUPT, "checksum mismatch (stored %08lx, computed %08x)", want, got);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(rec, rlen, 0, &je);
    if (!j || !json_is_object(j) || !json_is_integer(json_object_get(j, "seq"))) {
        err_set(e, FLOE_ECORRUPT, "record is not a JSON object with a seq%s%s", j ? "" : ": ",
                j ? "" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool only_padding(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\0' && p[i] != '\n' && p[i] != ' ')
            return false;
    return true;
}

int journal_replay(struct journal *j, int64_t after_seq, journal_apply_cb cb, void *ctx, struct err *e)
{
    struct buf data = BUF_INIT;
    int r = 0;
    struct stat st;
    if (fstat(j->fd, &st) != 0) {
        r = err_errno(e, errno, "journal %s: stat", j->path);
        goto out;
    }
    buf_grow(&data, (size_t)st.st_size);
    for (off_t off = 0; off < st.st_size;) {
        ssize_t n = pread(j->fd, data.data + off, (size_t)(st.st_size - off), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = err_errno(e, n < 0 ? errno : EIO, "journal %s: read", j->path);
            goto out;
        }
        off += n;
    }
    buf_setlen(&data, (size_t)st.st_size);
    j->last_seq = after_seq;
    j->count = 0;
    size_t pos = 0, len = data.len;
    int64_t lineno = 0;
    while (pos < len) {
        lineno++;
        const char *p = data.data + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;
        struct err le = { 0 };
        json_t *rec = nl ? parse_line(p, n, &le) : NULL;
        if (!nl)
            err_set(&le, FLOE_ECORRUPT, "line has no end");
        if (!rec) {
            size_t rest = nl ? len - pos - n - 1 : 0;
            if (rest == 0 || only_padding(nl + 1, rest)) {
                log_warn("journal %s line %lld: torn last record dropped (%s); %zu bytes cut",
                         j->path, (long long)lineno, err_msg(&le), len - pos);
                if (ftruncate(j->fd, (off_t)pos) != 0 || fsync(j->fd) != 0) {
                    r = err_errno(e, errno, "journal %s: cutting the torn record", j->path);
                    goto out;
                }
                len = pos;
                break;
            }
            r = err_set(e, FLOE_ECORRUPT, "journal %s line %lld: %s; the journal is corrupt before "
                        "its end, refusing to start", j->path, (long long)lineno, err_msg(&le));
            goto out;
        }
        int64_t seq = json_integer_value(json_object_get(rec, "seq"));
        if (seq <= after_seq) {
            /* covered by the checkpoint image */
        } else if (seq != j->last_seq + 1) {
            json_decref(rec);
            r = err_set(e, FLOE_ECORRUPT, "journal %s line %lld: seq %lld follows %lld (gap or reorder)",
                        j->path, (long long)lineno, (long long)seq, (long long)j->last_seq);
            goto out;
        } else {
            r = cb(ctx, rec, e);
            if (r < 0) {
                json_decref(rec);
                err_prefix(e, "journal %s line %lld", j->path, (long long)lineno);
                goto out;
            }
            j->last_seq = seq;
        }
        json_decref(rec);
        j->count++;
        pos += n + 1;
    }
    j->size = (off_t)len;
out:
    buf_release(&data);
    return r;
}

int journal_append(struct journal *j, json_t *rec, struct err *e)
{
    if (j->failed)
        return err_set(e, FLOE_EBADSTATE, "journal %s: an earlier write failed; restart the FE", j->path);
    int r;
    json_object_set_new(rec, "seq", json_integer(j->last_seq + 1));
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text)
        return err_set(e, FLOE_EINTERNAL, "journal: cannot serialise record");
    buf_reset(&j->line);
    buf_printf(&j->line, "{\"c\":\"%08x\",\"r\":%s}\n", crc32c(0, text, strlen(text)), text);
    free(text);
    if ((r = FAULT_POINT("journal.write")) < 0) {
        j->failed = true;
        return err_set(e, r, "journal %s: write failed (fault)", j->path);
    }
    r = 0;
    for (size_t done = 0; done < j->line.len;) {
        ssize_t n = pwrite(j->fd, j->line.data + done, j->line.len - done, j->size + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = err_errno(e, n < 0 ? errno : EIO, "journal %s: write", j->path);
            break;
        }
        done += (size_t)n;
    }
    if (r == 0 && (r = FAULT_POINT("journal.fsync")) < 0)
        err_set(e, r, "journal %s: fsync failed (fault)", j->path);
    else if (r == 0 && fdatasync(j->fd) != 0)
        r = err_errno(e, errno, "journal %s: fsync", j->path);
    if (r < 0) {
        j->failed = true;
        /* best effort: cut the partial line so a replay sees a clean tail */
        if (ftruncate(j->fd, j->size) == 0)
            (void)fdatasync(j->fd);
        return r;
    }
    j->size += (off_t)j->line.len;
    j->last_seq++;
    j->count++;
    return 0;
}

int journal_reset(struct journal *j, struct err *e)
{
    if (j->failed)
        return err_set(e, FLOE_EBADSTATE, "journal %s: an earlier write failed", j->path);
    char *tmp = xasprintf("%s.new", j->path);
    int r = 0;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = err_errno(e, errno, "journal %s: create", tmp);
        goto out;
    }
    if (fsync(fd) != 0 || rename(tmp, j->path) != 0 || fsync_parent(j->path) != 0) {
        r = err_errno(e, errno, "journal %s: replace", j->path);
        close(fd);
        unlink(tmp);
        j->failed = true;
        goto out;
    }
    close(j->fd);
    j->fd = fd;
    j->size = 0;
    j->count = 0;
out:
    free(tmp);
    return r;
}
