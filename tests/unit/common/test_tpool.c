/* Unit tests for common/tpool: many jobs, FIFO order, back-pressure, wait, drain on free. */
#include "err.h"
#include "fsutil.h"
#include "tpool.h"
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static atomic_long counter;

static void bump(void *arg)
{
    atomic_fetch_add(&counter, (long)(intptr_t)arg);
}

START_TEST(many_jobs)
{
    atomic_store(&counter, 0);
    struct tpool *p = tpool_new("many", 4, 8);
    ck_assert_ptr_nonnull(p);
    long want = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 1; i <= 5000; i++) {
            ck_assert_int_eq(tpool_submit(p, bump, (void *)(intptr_t)i), 0);
            want += i;
        }
        tpool_wait(p);
        ck_assert_int_eq(atomic_load(&counter), want);
        ck_assert_uint_eq(tpool_queue_len(p), 0);
    }
    tpool_free(p);
    tpool_free(NULL);
}
END_TEST

struct order_log {
    pthread_mutex_t lock;
    int seen[1000];
    int n;
};

static struct order_log olog = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };

static void record(void *arg)
{
    pthread_mutex_lock(&olog.lock);
    olog.seen[olog.n++] = (int)(intptr_t)arg;
    pthread_mutex_unlock(&olog.lock);
}

START_TEST(fifo_on_one_thread)
{
    struct tpool *p = tpool_new("fifo", 1, 3);
    ck_assert_ptr_nonnull(p);
    olog.n = 0;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(tpool_submit(p, record, (void *)(intptr_t)i), 0);
    tpool_wait(p);
    ck_assert_int_eq(olog.n, 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(olog.seen[i], i);
    tpool_free(p);
}
END_TEST

/* A gate jobs block on until the test opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int gate_waiting;

static void gated(void *arg)
{
    pthread_mutex_lock(&gate_lock);
    atomic_fetch_add(&gate_waiting, 1);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    bump(arg);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void wait_until(atomic_int *v, int want)
{
    int64_t deadline = mono_now_ms() + 10000;
    while (atomic_load(v) < want) {
        ck_assert_msg(mono_now_ms() < deadline, "timed out waiting for %d jobs to start", want);
        sched_yield();
    }
}

struct submitter {
    struct tpool *p;
    atomic_int returned;
    int rc;
};

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    s->rc = tpool_submit(s->p, bump, (void *)(intptr_t)100);
    atomic_store(&s->returned, 1);
    return NULL;
}

START_TEST(back_pressure)
{
    atomic_store(&counter, 0);
    gate_open = false;
    atomic_store(&gate_waiting, 0);
    struct tpool *p = tpool_new("bp", 2, 3);
    ck_assert_ptr_nonnull(p);
    /* two jobs occupy both threads, three fill the queue */
    ck_assert_int_eq(tpool_submit(p, gated, (void *)(intptr_t)1), 0);
    ck_assert_int_eq(tpool_submit(p, gated, (void *)(intptr_t)1), 0);
    wait_until(&gate_waiting, 2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tpool_try_submit(p, bump, (void *)(intptr_t)10), 0);
    ck_assert_uint_eq(tpool_queue_len(p), 3);
    ck_assert_int_eq(tpool_try_submit(p, bump, (void *)(intptr_t)1000), FLOE_EBUSY);

    struct submitter s = { .p = p };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, submit_thread, &s), 0);
    /* Not synchronisation: a window in which the blocked submit must stay blocked. */
    int64_t until = mono_now_ms() + 50;
    while (mono_now_ms() < until) {
        ck_assert_int_eq(atomic_load(&s.returned), 0);
        sched_yield();
    }
    ck_assert_int_eq(atomic_load(&counter), 0);
    open_gate();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(s.rc, 0);
    tpool_wait(p);
    ck_assert_int_eq(atomic_load(&counter), 1 + 1 + 30 + 100);
    tpool_free(p);
}
END_TEST

START_TEST(free_drains_queue)
{
    atomic_store(&counter, 0);
    gate_open = false;
    atomic_store(&gate_waiting, 0);
    struct tpool *p = tpool_new("drain", 1, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tpool_submit(p, gated, (void *)(intptr_t)1), 0);
    wait_until(&gate_waiting, 1);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(tpool_submit(p, bump, (void *)(intptr_t)2), 0);
    open_gate();
    tpool_free(p);  /* no tpool_wait: free must run all 51 */
    ck_assert_int_eq(atomic_load(&counter), 101);
}
END_TEST

static struct tpool *self_pool;
static atomic_int self_rc;
static atomic_int extra_jobs;

static void submit_during_free(void *arg)
{
    (void)arg;
    atomic_store(&self_rc, tpool_try_submit(self_pool, bump, (void *)(intptr_t)1000));
}

static void count_extra(void *arg)
{
    (void)arg;
    atomic_fetch_add(&extra_jobs, 1);
}

/* Probes the pool until it refuses work (tpool_free has begun), then lets
 * the blocked job go. The pool cannot be freed before that: its only thread
 * is stuck behind the gate. */
static void *open_gate_when_stopping(void *arg)
{
    (void)arg;
    int64_t deadline = mono_now_ms() + 10000;
    while (tpool_try_submit(self_pool, count_extra, NULL) != FLOE_ESHUTDOWN && mono_now_ms() < deadline)
        sched_yield();
    open_gate();
    return NULL;
}

START_TEST(submit_while_freeing_refused)
{
    atomic_store(&counter, 0);
    atomic_store(&extra_jobs, 0);
    gate_open = false;
    atomic_store(&gate_waiting, 0);
    self_pool = tpool_new("self", 1, 4);
    ck_assert_ptr_nonnull(self_pool);
    ck_assert_int_eq(tpool_submit(self_pool, gated, (void *)(intptr_t)1), 0);
    wait_until(&gate_waiting, 1);
    ck_assert_int_eq(tpool_submit(self_pool, submit_during_free, NULL), 0);
    atomic_store(&self_rc, 1);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, open_gate_when_stopping, NULL), 0);
    int64_t t0 = mono_now_ms();
    tpool_free(self_pool);
    pthread_join(t, NULL);
    ck_assert_int_lt(mono_now_ms() - t0, 10000);
    ck_assert_int_eq(atomic_load(&self_rc), FLOE_ESHUTDOWN);
    ck_assert_int_eq(atomic_load(&counter), 1);
    /* probes accepted before free began still ran (at most 3 fit) */
    ck_assert_int_le(atomic_load(&extra_jobs), 3);
}
END_TEST

START_TEST(bad_args)
{
    ck_assert_ptr_null(tpool_new("x", 0, 4));
    ck_assert_ptr_null(tpool_new("x", 2, 0));
    struct tpool *p = tpool_new(NULL, 1, 1);
    ck_assert_ptr_nonnull(p);
    tpool_wait(p);  /* idle pool: returns at once */
    tpool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tpool");
    TCase *tc = tcase_create("tpool");
    tcase_add_test(tc, many_jobs);
    tcase_add_test(tc, fifo_on_one_thread);
    tcase_add_test(tc, back_pressure);
    tcase_add_test(tc, free_drains_queue);
    tcase_add_test(tc, submit_while_freeing_refused);
    tcase_add_test(tc, bad_args);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
