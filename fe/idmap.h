/*
 * idmap: an open-addressing hash map from a non-zero int64 id to a pointer.
 * Linear probing with backward-shift deletion (no tombstones), so lookups
 * stay short after many drops. Not thread-safe; the catalog lock covers it.
 * The map never owns the values.
 */
#ifndef FLOE_FE_IDMAP_H
#define FLOE_FE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
    int64_t key;   /* 0 = empty */
    void *val;
};

struct idmap {
    struct idmap_slot *slots;
    size_t cap;    /* power of two, or 0 before the first insert */
    size_t count;
};

#define IDMAP_INIT { NULL, 0, 0 }

void idmap_init(struct idmap *m);
/* Frees the table (not the values). Accepts NULL. */
void idmap_release(struct idmap *m);
/* NULL when absent. key != 0. */
void *idmap_get(const struct idmap *m, int64_t key);
/* Inserts or replaces. key != 0. */
void idmap_put(struct idmap *m, int64_t key, void *val);
/* Returns the removed value, or NULL when absent. */
void *idmap_del(struct idmap *m, int64_t key);
/* Pre-sizes for n entries. */
void idmap_reserve(struct idmap *m, size_t n);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].key) ... */

/* for (each occupied slot i of map m) — use m->slots[i].key / .val */
#define IDMAP_FOREACH(m, i) for (size_t i = 0; i < (m)->cap; i++) if ((m)->slots[i].key)

#endif
