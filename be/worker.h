/*
 * worker: a group of N threads; every key (a tablet id) belongs to one of
 * them. Work for a key runs on its thread in submission order, so a tablet's
 * state changes one at a time without per-tablet locks.
 *
 * worker_group_exec runs fn on the key's thread and waits for its result; a
 * call made from that very thread runs inline (no deadlock on nesting).
 * worker_group_post queues fn without waiting.
 */
#ifndef FLOE_BE_WORKER_H
#define FLOE_BE_WORKER_H

#include <stdint.h>

struct err;
struct worker_group;

typedef int (*worker_fn)(void *arg, struct err *e);
typedef void (*worker_post_fn)(void *arg);

/* NULL when threads cannot be started. n >= 1. */
struct worker_group *worker_group_new(int n);
int worker_group_exec(struct worker_group *g, uint64_t key, worker_fn fn, void *arg, struct err *e);
int worker_group_post(struct worker_group *g, uint64_t key, worker_post_fn fn, void *arg);
/* Runs what is queued, then joins. Accepts NULL. */
void worker_group_free(struct worker_group *g);
/* True when the calling thread is the worker of key. */
int worker_group_on_worker(struct worker_group *g, uint64_t key);

#endif
