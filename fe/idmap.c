/* idmap: int64 -> pointer hash map; see idmap.h. */
#include "idmap.h"

#include "buf.h"

#include <assert.h>
#include <stdlib.h>

static inline size_t idmap_hash(int64_t key)
{
    uint64_t x = (uint64_t)key;
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (size_t)(x ^ (x >> 31));
}

void idmap_init(struct idmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void idmap_release(struct idmap *m)
{
    if (!m)
        return;
    free(m->slots);
    idmap_init(m);
}

void *idmap_get(const struct idmap *m, int64_t key)
{
    if (m->cap == 0 || key == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = idmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == key)
            return m->slots[i].val;
        if (m->slots[i].key == 0)
            return NULL;
    }
}

static void idmap_rehash(struct idmap *m, size_t newcap)
{
    struct idmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = xcalloc(newcap, sizeof(*m->slots));
    m->cap = newcap;
    size_t mask = newcap - 1;
    for (size_t j = 0; j < oldcap; j++) {
        if (old[j].key == 0)
            continue;
        size_t i = idmap_hash(old[j].key) & mask;
        while (m->slots[i].key != 0)
            i = (i + 1) & mask;
        m->slots[i] = old[j];
    }
    free(old);
}

void idmap_reserve(struct idmap *m, size_t n)
{
    size_t want = 16;
    while (want < n + n / 2 + 1)
        want <<= 1;
    if (want > m->cap)
        idmap_rehash(m, want);
}

void idmap_put(struct idmap *m, int64_t key, void *val)
{
    assert(key != 0);
    if ((m->count + 1) * 3 >= m->cap * 2)
        idmap_rehash(m, m->cap ? m->cap * 2 : 16);
    size_t mask = m->cap - 1;
    size_t i = idmap_hash(key) & mask;
    while (m->slots[i].key != 0 && m->slots[i].key != key)
        i = (i + 1) & mask;
    if (m->slots[i].key == 0)
        m->count++;
    m->slots[i].key = key;
    m->slots[i].val = val;
}

void *idmap_del(struct idmap *m, int64_t key)
{
    if (m->cap == 0 || key == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = idmap_hash(key) & mask;
    while (m->slots[i].key != key) {
        if (m->slots[i].key == 0)
            return NULL;
        i = (i + 1) & mask;
    }
    void *val = m->slots[i].val;
    /* backward-shift: move later members of the probe run into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].key != 0; j = (j + 1) & mask) {
        size_t home = idmap_hash(m->slots[j].key) & mask;
        /* can slot j move to hole? only if home is not in (hole, j] cyclically */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].val = NULL;
    m->count--;
    return val;
}
