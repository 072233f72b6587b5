/* worker: per-shard threads with FIFO message queues. */
#include "worker.h"

#include "buf.h"
#include "err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct msg {
    struct msg *next;
    worker_fn fn;          /* exec */
    worker_post_fn pfn;    /* post */
    void *arg;
    struct err *e;
    int rc;
    bool done;
};

struct worker {
    struct worker_group *g;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct msg *head, *tail;
    bool stop;
};

struct worker_group {
    int n;
    struct worker *w;
};

static __thread struct worker *current_worker;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    current_worker = w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        if (!w->head)
            break;
        struct msg *m = w->head;
        w->head = m->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        if (m->fn) {
            int rc = m->fn(m->arg, m->e);
            pthread_mutex_lock(&w->mu);
            m->rc = rc;
            m->done = true;
            pthread_cond_broadcast(&w->done);
        } else {
            m->pfn(m->arg);
            free(m);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct worker_group *worker_group_new(int n)
{
    if (n < 1)
        n = 1;
    struct worker_group *g = xcalloc(1, sizeof(*g));
    g->w = xcalloc((size_t)n, sizeof(*g->w));
    for (int i = 0; i < n; i++) {
        struct worker *w = &g->w[i];
        w->g = g;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->work, NULL);
        pthread_cond_init(&w->done, NULL);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->work);
            pthread_cond_destroy(&w->done);
            worker_group_free(g);
            return NULL;
        }
        g->n = i + 1;
    }
    return g;
}

static struct worker *pick(struct worker_group *g, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return &g->w[(h >> 32) % (uint64_t)g->n];
}

int worker_group_on_worker(struct worker_group *g, uint64_t key) { return current_worker == pick(g, key); }

static void enqueue(struct worker *w, struct msg *m)
{
    if (w->tail)
        w->tail->next = m;
    else
        w->head = m;
    w->tail = m;
    pthread_cond_signal(&w->work);
}

int worker_group_exec(struct worker_group *g, uint64_t key, worker_fn fn, void *arg, struct err *e)
{
    struct worker *w = pick(g, key);
    if (current_worker == w)
        return fn(arg, e);
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.fn = fn;
    m.arg = arg;
    m.e = e;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        return err_set(e, FLOE_ESHUTDOWN, "worker group is shutting down");
    }
    enqueue(w, &m);
    while (!m.done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return m.rc;
}

int worker_group_post(struct worker_group *g, uint64_t key, worker_post_fn fn, void *arg)
{
    struct worker *w = pick(g, key);
    struct msg *m = xcalloc(1, sizeof(*m));
    m->pfn = fn;
    m->arg = arg;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        free(m);
        return FLOE_ESHUTDOWN;
    }
    enqueue(w, m);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void worker_group_free(struct worker_group *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++) {
        struct worker *w = &g->w[i];
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
    }
    for (int i = 0; i < g->n; i++) {
        struct worker *w = &g->w[i];
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
    }
    free(g->w);
    free(g);
}


