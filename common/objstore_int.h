/*
 * objstore_int: what objstore.c shares with its drivers (objstore_local.c,
 * objstore_s3.c). Drivers see full keys (resource prefix already applied)
 * that objstore.c has validated; listings come back with full keys and
 * objstore.c strips the prefix.
 */
#ifndef FLOE_OBJSTORE_INT_H
#define FLOE_OBJSTORE_INT_H

#include "objstore.h"

struct buf;

/* Where the bytes of a get go. A sink can be reset for a retry. */
enum objstore_sink_kind { SINK_MEM, SINK_BUF, SINK_FD };

struct objstore_sink {
    enum objstore_sink_kind kind;
    char *mem;            /* SINK_MEM: room for cap bytes */
    uint64_t cap;         /* SINK_MEM: capacity; other kinds: UINT64_MAX */
    struct buf *buf;      /* SINK_BUF: appended to, from base */
    size_t base;
    int fd;               /* SINK_FD: written from offset 0 */
    uint64_t n;           /* bytes written so far */
};

void objstore_sink_mem(struct objstore_sink *s, void *dst, uint64_t cap);
void objstore_sink_buf(struct objstore_sink *s, struct buf *b);
void objstore_sink_fd(struct objstore_sink *s, int fd);
/* 0, -EOVERFLOW when a SINK_MEM would overflow, -errno on write errors. */
int objstore_sink_write(struct objstore_sink *s, const void *p, size_t len);
/* Drops what was written (for a retry). 0 or -errno. */
int objstore_sink_reset(struct objstore_sink *s);

/* A put body: memory or a file descriptor (read with pread from offset 0). */
struct objstore_src {
    const char *mem;      /* NULL for fd */
    int fd;
    uint64_t len;
};

struct objstore_driver {
    const char *name;
    int (*put)(struct objstore *os, const char *key, const struct objstore_src *src,
               struct err *e);
    /* len may be OBJSTORE_TO_END; len == 0 is handled by objstore.c via head */
    int (*get)(struct objstore *os, const char *key, uint64_t off, uint64_t len,
               struct objstore_sink *sink, struct err *e);
    int (*get_tail)(struct objstore *os, const char *key, uint64_t n,
                    struct objstore_sink *sink, uint64_t *ret_size, struct err *e);
    int (*get_cond)(struct objstore *os, const char *key, const char *etag,
                    struct objstore_sink *sink, struct objstore_info *ret_info, struct err *e);
    int (*head)(struct objstore *os, const char *key, struct objstore_info *ret_info,
                struct err *e);
    /* full-key prefix; fills list with full keys, sorted or not */
    int (*list)(struct objstore *os, const char *prefix, struct objstore_list *list,
                struct err *e);
    /* n <= 1000; results[i] filled for each key */
    int (*delete_batch)(struct objstore *os, const char *const *keys, size_t n, int *results,
                        struct err *e);
    void (*close)(struct objstore *os);
};

struct objstore {
    const struct objstore_driver *drv;
    enum objstore_type type;
    char *prefix;                 /* "" or ends with '/' */
    struct objstore_stats stats;  /* updated with __atomic builtins */
    void *impl;                   /* the driver's state */
};

/* Counter updates (atomic). */
void objstore_count_request(struct objstore *os, enum objstore_op op, bool retry, bool error);
void objstore_count_bytes(struct objstore *os, uint64_t up, uint64_t down);
void objstore_count_deleted(struct objstore *os, uint64_t n);

/* Appends entries; grows the array. Takes ownership of key. */
void objstore_list_push(struct objstore_list *list, char *key, uint64_t size, int64_t mtime_ms);

int objstore_local_open(struct objstore *os, const struct objstore_conf *conf, struct err *e);
int objstore_s3_open(struct objstore *os, const struct objstore_conf *conf, struct err *e);

#endif
