/*
 * load: open multi-chunk loads of the FE (load.c). A load sent in chunks
 * (LoadReq.more) stays open in memory between its chunks, keyed by its txn
 * id; the background loop aborts the ones left idle, and a stopping server
 * aborts the rest. The handler itself is fe_svc_load (server_int.h).
 */
#ifndef FLOE_FE_LOAD_H
#define FLOE_FE_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct fe_server;

/* Aborts (on every backend written to) and forgets the open loads of s with
 * no chunk for longer than idle_ms, each with a log line. Returns how many. */
size_t fe_loads_expire(struct fe_server *s, int64_t idle_ms);
/* At stop: aborts and frees every open load of s, forgets its finished ones. */
void fe_loads_free_all(struct fe_server *s);
/* Open loads of s (for /status and tests). */
size_t fe_loads_open(struct fe_server *s);

#endif
