/* meta: catalog + journal + checkpoint image in one directory; see meta.h. */
#define LOG_MODULE "meta"
#include "meta.h"

#include "buf.h"
#include "err.h"
#include "journal.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int replay_cb(void *ctx, const json_t *rec, struct err *e)
{
    return catalog_apply(ctx, rec, e);
}

int meta_open(const char *dir, const struct fe_params *params, struct fe_meta **ret, struct err *e)
{
    struct fe_meta *m = xcalloc(1, sizeof(*m));
    int r = 0;
    m->lock_fd = -1;
    m->dir = xstrdup(dir);
    m->image_path = xasprintf("%s/image.json", dir);
    m->checkpoint_every = 100000;
    catalog_init(&m->cat, params);
    m->cat.load_ms = wall_ms();
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        r = err_errno(e, errno, "meta_dir %s: create", dir);
        goto fail;
    }
    char *lock = xasprintf("%s/LOCK", dir);
    m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock);
    if (m->lock_fd < 0) {
        r = err_errno(e, errno, "meta_dir %s: open LOCK", dir);
        goto fail;
    }
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        r = err_set(e, FLOE_EBUSY, "meta_dir %s is locked by another floe-fe", dir);
        goto fail;
    }
    if (access(m->image_path, F_OK) == 0) {
        if ((r = catalog_image_load(&m->cat, m->image_path, e)) < 0)
            goto fail;
    }
    char *jp = xasprintf("%s/journal.log", dir);
    r = journal_open(jp, &m->journal, e);
    free(jp);
    if (r < 0)
        goto fail;
    if ((r = journal_replay(m->journal, m->cat.last_seq, replay_cb, &m->cat, e)) < 0)
        goto fail;
    m->master = true;
    log_info("meta %s: loaded up to seq %lld (%lld tables, %lld tablets, %lld replicas, max term %lld)",
             dir, (long long)m->cat.last_seq, (long long)m->cat.tables.count,
             (long long)m->cat.tablets.count, (long long)m->cat.nreplicas, (long long)m->cat.max_term);
    *ret = m;
    return 0;
fail:
    meta_close(m);
    return r;
}

void meta_close(struct fe_meta *m)
{
    if (!m)
        return;
    journal_close(m->journal);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    catalog_release(&m->cat);
    free(m->dir);
    free(m->image_path);
    free(m);
}

void meta_step_down(struct fe_meta *m)
{
    if (m->master)
        log_error("meta %s: no longer master", m->dir);
    m->master = false;
}

int meta_commit(struct fe_meta *m, json_t *rec, struct err *e)
{
    int r;
    if (!m->master) {
        json_decref(rec);
        return err_set(e, FLOE_ENOTMASTER, "this FE is not master (journal %s/journal.log failed)", m->dir);
    }
    if ((r = journal_append(m->journal, rec, e)) < 0) {
        meta_step_down(m);
        json_decref(rec);
        return r;
    }
    r = catalog_apply(&m->cat, rec, e);
    if (r < 0) {
        /* the caller validated; a journaled record that does not apply is a bug */
        log_error("meta: journaled record does not apply: %s", err_msg(e));
        meta_step_down(m);
    }
    json_decref(rec);
    if (r == 0 && m->checkpoint_every > 0 && journal_count(m->journal) >= m->checkpoint_every) {
        struct err ce = { 0 };
        if (meta_checkpoint(m, &ce) < 0)
            log_warn("meta: checkpoint failed: %s", err_msg(&ce));
    }
    return r;
}

int meta_checkpoint(struct fe_meta *m, struct err *e)
{
    int r = catalog_image_write(&m->cat, m->image_path, e);
    if (r < 0)
        return r;
    if ((r = journal_reset(m->journal, e)) < 0) {
        meta_step_down(m);
        return r;
    }
    log_info("meta %s: checkpoint at seq %lld", m->dir, (long long)m->cat.last_seq);
    return 0;
}
