/*
 * buf: a growable byte buffer, always NUL-terminated after len bytes so it
 * can be used as a C string. The vocabulary follows strbuf: buf_init /
 * buf_release for caller-owned structs, buf_detach to take the memory.
 *
 * Growth aborts the process only on allocation failure (out of memory is not
 * bad input); every other misuse is a programmer error.
 */
#ifndef FLOE_BUF_H
#define FLOE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;   /* NULL until the first growth; buf_cstr() never returns NULL */
    size_t len;
    size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
/* Frees the memory; b is empty and reusable afterwards. Accepts NULL. */
void buf_release(struct buf *b);
/* Keeps the memory, sets len to 0. */
void buf_reset(struct buf *b);
/* Ensures room for extra more bytes (plus the NUL). */
void buf_grow(struct buf *b, size_t extra);
/* Returns the data (caller frees with free()), leaves b empty. Never NULL. */
char *buf_detach(struct buf *b, size_t *ret_len);

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Sets len (<= cap) after the caller wrote into data directly. */
void buf_setlen(struct buf *b, size_t len);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);

static inline const char *buf_cstr(const struct buf *b) { return b->data ? b->data : ""; }

/* Little-endian fixed-width appends and reads, used by on-disk formats. */
void buf_put_u32le(struct buf *b, uint32_t v);
void buf_put_u64le(struct buf *b, uint64_t v);
static inline uint32_t get_u32le(const void *p)
{
    const uint8_t *c = p;
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}
static inline uint64_t get_u64le(const void *p)
{
    const uint8_t *c = p;
    return (uint64_t)get_u32le(c) | (uint64_t)get_u32le(c + 4) << 32;
}
static inline void put_u32le(void *p, uint32_t v)
{
    uint8_t *c = p;
    c[0] = (uint8_t)v; c[1] = (uint8_t)(v >> 8); c[2] = (uint8_t)(v >> 16); c[3] = (uint8_t)(v >> 24);
}
static inline void put_u64le(void *p, uint64_t v)
{
    put_u32le(p, (uint32_t)v);
    put_u32le((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* Allocation wrappers that abort with a message on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
