/*
 * tpool: N worker threads fed from one bounded FIFO ring under a mutex.
 *
 * Invariants (under lock): 0 <= count <= queue_max; active is the number of
 * jobs taken off the ring and still running; idle is signalled whenever
 * count == 0 && active == 0. Workers leave only when stopping is set and
 * the ring is empty, so tpool_free runs every job already queued.
 */
#define LOG_MODULE "tpool"
#include "tpool.h"

#include "buf.h"
#include "err.h"
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tpool_job {
    tpool_fn fn;
    void *arg;
};

struct tpool {
    char name[16];
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pthread_cond_t idle;
    struct tpool_job *ring;
    size_t queue_max;
    size_t head;     /* index of the oldest queued job */
    size_t count;    /* queued, not yet started */
    size_t active;   /* started, not yet finished */
    bool stopping;
    int nthreads;    /* threads started */
    pthread_t *threads;
};

static void *worker(void *arg)
{
    struct tpool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->not_empty, &p->lock);
        if (p->count == 0)
            break;
        struct tpool_job job = p->ring[p->head];
        p->head = (p->head + 1) % p->queue_max;
        p->count--;
        p->active++;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->lock);
        job.fn(job.arg);
        pthread_mutex_lock(&p->lock);
        p->active--;
        if (p->count == 0 && p->active == 0)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void stop_and_join(struct tpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_cond_broadcast(&p->not_full);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

struct tpool *tpool_new(const char *name, int nthreads, size_t queue_max)
{
    if (nthreads < 1 || queue_max < 1)
        return NULL;
    struct tpool *p = xcalloc(1, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "tpool");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->queue_max = queue_max;
    p->ring = xcalloc(queue_max, sizeof(*p->ring));
    p->threads = xcalloc((size_t)nthreads, sizeof(*p->threads));
    for (int i = 0; i < nthreads; i++) {
        int r = pthread_create(&p->threads[i], NULL, worker, p);
        if (r != 0) {
            log_error("pool %s: cannot start thread %d of %d: %s", p->name, i + 1, nthreads,
                      err_str(-r));
            tpool_free(p);
            return NULL;
        }
        p->nthreads++;
        /* thread names show up in top/gdb; a failure here is harmless */
        char tname[32];
        snprintf(tname, sizeof(tname), "%.10s/%d", p->name, i);
        tname[15] = '\0';  /* the kernel limit is 15 characters */
        pthread_setname_np(p->threads[i], tname);
    }
    return p;
}

static int submit(struct tpool *p, tpool_fn fn, void *arg, bool block)
{
    pthread_mutex_lock(&p->lock);
    while (block && p->count == p->queue_max && !p->stopping)
        pthread_cond_wait(&p->not_full, &p->lock);
    int r = 0;
    if (p->stopping)
        r = FLOE_ESHUTDOWN;
    else if (p->count == p->queue_max)
        r = FLOE_EBUSY;
    else {
        p->ring[(p->head + p->count) % p->queue_max] = (struct tpool_job){ fn, arg };
        p->count++;
        pthread_cond_signal(&p->not_empty);
    }
    pthread_mutex_unlock(&p->lock);
    return r;
}

int tpool_submit(struct tpool *p, tpool_fn fn, void *arg)
{
    return submit(p, fn, arg, true);
}

int tpool_try_submit(struct tpool *p, tpool_fn fn, void *arg)
{
    return submit(p, fn, arg, false);
}

void tpool_wait(struct tpool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->count > 0 || p->active > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

size_t tpool_queue_len(struct tpool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void tpool_free(struct tpool *p)
{
    if (!p)
        return;
    stop_and_join(p);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->not_empty);
    pthread_mutex_destroy(&p->lock);
    free(p->ring);
    free(p->threads);
    free(p);
}
