/*
 * tpool: a bounded thread pool. Jobs run in submission order on N threads;
 * the queue holds at most queue_max jobs, and tpool_submit blocks while it is
 * full (back-pressure) or returns FLOE_EBUSY with tpool_try_submit.
 * tpool_free waits for queued jobs to finish, then joins the threads.
 *
 * A job must not call tpool_wait or tpool_free on its own pool, and should
 * not tpool_submit to it (with every thread blocked on a full queue nothing
 * would drain it); use tpool_try_submit there. Submitting while tpool_free
 * runs (from a job) returns FLOE_ESHUTDOWN.
 */
#ifndef FLOE_TPOOL_H
#define FLOE_TPOOL_H

#include <stddef.h>

struct tpool;
typedef void (*tpool_fn)(void *arg);

/* NULL on failure to start threads. nthreads >= 1, queue_max >= 1. */
struct tpool *tpool_new(const char *name, int nthreads, size_t queue_max);
/* 0, or FLOE_ESHUTDOWN once tpool_free has begun. Blocks while full. */
int tpool_submit(struct tpool *p, tpool_fn fn, void *arg);
/* 0, FLOE_EBUSY when the queue is full, or FLOE_ESHUTDOWN. Never blocks. */
int tpool_try_submit(struct tpool *p, tpool_fn fn, void *arg);
/* Jobs queued and not yet started (for a queue-depth gauge). */
size_t tpool_queue_len(struct tpool *p);
/* Waits until the queue is empty and no job runs. */
void tpool_wait(struct tpool *p);
/* Drains, joins and frees. Accepts NULL. */
void tpool_free(struct tpool *p);

#endif
