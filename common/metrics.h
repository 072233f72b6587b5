/*
 * metrics: a process-wide registry of counters and gauges, rendered in the
 * Prometheus text exposition format (served on /metrics by httpd).
 *
 * A series is named by its full Prometheus name, labels included:
 *     static struct metric *gets;
 *     gets = metrics_counter("floe_s3_requests_total{kind=\"get\"}", "S3 requests by kind");
 *     metrics_add(gets, 1);
 * Everything before '{' is the family; HELP and TYPE are printed once per
 * family (the help of the first registration wins). Registering an existing
 * name returns the same pointer, so lookups are idempotent; keep the pointer
 * rather than looking it up on a hot path (lookup takes a lock, updates are
 * one relaxed atomic operation).
 *
 * Pointers are stable for the life of the process; series are never removed.
 * Never NULL: a malformed name (bad characters, unbalanced labels) or a
 * counter/gauge clash within a family is logged once and gets a private
 * sink series that works but is not rendered. Thread-safe.
 */
#ifndef FLOE_METRICS_H
#define FLOE_METRICS_H

#include <stdint.h>

struct buf;
struct metric;

/* Monotonic count; by convention the family name ends in _total. */
struct metric *metrics_counter(const char *name, const char *help);
/* A value that goes up and down (queue depth, bytes cached, ...). */
struct metric *metrics_gauge(const char *name, const char *help);

/* Adds delta (counters: delta >= 0). */
void metrics_add(struct metric *m, int64_t delta);
/* Sets a gauge (on a counter it is allowed but breaks rate() for readers). */
void metrics_set(struct metric *m, int64_t value);
int64_t metrics_get(const struct metric *m);
static inline void metrics_inc(struct metric *m) { metrics_add(m, 1); }

/* Appends key="value" to out with the value escaped (\\, \", \n) for use
 * inside a series name's braces. */
void metrics_label(struct buf *out, const char *key, const char *value);

/* Appends the whole registry in Prometheus text format: families sorted by
 * name, series in registration order. */
void metrics_render(struct buf *out);

#endif
