/* tidl: runtime codec for tidlc-generated code; see tidl.h. */
#include "tidl.h"

#include <stdlib.h>
#include <string.h>

const struct tidl_limits tidl_default_limits = {
    .max_message = 64u << 20,
    .max_string = 16u << 20,
    .max_list = 16u << 20,
    .max_depth = 64,
    .max_alloc = (size_t)1 << 30,
};

static const char *const wire_names[] = {
    "STOP", "BOOL", "BOOL", "VARINT", "DOUBLE", "BYTES", "LIST", "MAP", "STRUCT",
};

const char *tidl_wire_name(enum tidl_wire w)
{
    return (unsigned)w <= TIDL_W_MAX_ ? wire_names[w] : "INVALID";
}

/* Smallest encoding of one list/map element of wire type w. */
static size_t min_size(enum tidl_wire w)
{
    switch (w) {
    case TIDL_W_DOUBLE: return 8;
    case TIDL_W_LIST:
    case TIDL_W_MAP: return 2;
    default: return 1;
    }
}

static size_t left(const struct tidl_reader *r)
{
    return (size_t)(r->end - r->p);
}

int tidl_reader_init(struct tidl_reader *r, const void *data, size_t len,
                     const struct tidl_limits *lim, struct err *e)
{
    r->lim = lim ? lim : &tidl_default_limits;
    r->p = data;
    r->end = r->p + (data ? len : 0);
    r->depth = 0;
    r->alloc = 0;
    r->e = e;
    if (len > r->lim->max_message)
        return err_set(e, FLOE_ELIMIT, "message of %zu bytes exceeds limit %zu", len,
                       r->lim->max_message);
    return 0;
}

int tidl_reader_finish(struct tidl_reader *r, const char *what)
{
    if (r->p != r->end)
        return err_set(r->e, FLOE_EPROTO, "%s: %zu trailing bytes after the message", what,
                       left(r));
    return 0;
}

static inline uint8_t *put_varint_raw(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

void tidl_put_uvarint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    buf_append(b, tmp, (size_t)(put_varint_raw(tmp, v) - tmp));
}

void tidl_put_i32_elems(struct buf *b, const int32_t *v, size_t n)
{
    buf_grow(b, n * 5);
    uint8_t *p = (uint8_t *)b->data + b->len;
    for (size_t i = 0; i < n; i++)
        p = put_varint_raw(p, tidl_zigzag(v[i]));
    buf_setlen(b, (size_t)(p - (uint8_t *)b->data));
}

void tidl_put_i64_elems(struct buf *b, const int64_t *v, size_t n)
{
    buf_grow(b, n * 10);
    uint8_t *p = (uint8_t *)b->data + b->len;
    for (size_t i = 0; i < n; i++)
        p = put_varint_raw(p, tidl_zigzag(v[i]));
    buf_setlen(b, (size_t)(p - (uint8_t *)b->data));
}

void tidl_put_double_elems(struct buf *b, const double *v, size_t n)
{
    buf_grow(b, n * 8);
    uint8_t *p = (uint8_t *)b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof(u));
        put_u64le(p, u);
        p += 8;
    }
    buf_setlen(b, b->len + n * 8);
}

void tidl_put_bool_elems(struct buf *b, const bool *v, size_t n)
{
    buf_grow(b, n);
    uint8_t *p = (uint8_t *)b->data + b->len;
    for (size_t i = 0; i < n; i++)
        p[i] = v[i] ? 1 : 0;
    buf_setlen(b, b->len + n);
}

void tidl_put_field(struct buf *b, uint32_t id, enum tidl_wire w)
{
    tidl_put_uvarint(b, (uint64_t)id << 4 | (uint64_t)w);
}

void tidl_put_double(struct buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    buf_put_u64le(b, u);
}

void tidl_put_string(struct buf *b, const char *s)
{
    tidl_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

void tidl_put_bytes(struct buf *b, const void *data, size_t len)
{
    tidl_put_uvarint(b, len);
    if (len)
        buf_append(b, data, len);
}

void tidl_put_list_header(struct buf *b, size_t count, enum tidl_wire elem)
{
    tidl_put_uvarint(b, count);
    buf_putc(b, (char)elem);
}

void tidl_put_map_header(struct buf *b, size_t count, enum tidl_wire key, enum tidl_wire val)
{
    tidl_put_uvarint(b, count);
    buf_putc(b, (char)(key << 4 | val));
}

static int truncated(struct tidl_reader *r, const char *what)
{
    return err_set(r->e, FLOE_EPROTO, "truncated message: %s runs past the end", what);
}

int tidl_get_uvarint(struct tidl_reader *r, uint64_t *ret)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return truncated(r, "varint");
        uint8_t c = *r->p++;
        if (shift == 63 && c > 1)
            return err_set(r->e, FLOE_EPROTO, "varint overflows 64 bits");
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return err_set(r->e, FLOE_EPROTO, "varint longer than 10 bytes");
}

int tidl_get_i64(struct tidl_reader *r, int64_t *ret)
{
    uint64_t u;
    int rc = tidl_get_uvarint(r, &u);
    if (rc < 0)
        return rc;
    *ret = tidl_unzigzag(u);
    return 0;
}

static int narrow_i32(struct tidl_reader *r, int64_t v, int32_t *ret)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return err_set(r->e, FLOE_EPROTO, "value %lld out of i32 range", (long long)v);
    *ret = (int32_t)v;
    return 0;
}

int tidl_get_i32(struct tidl_reader *r, int32_t *ret)
{
    int64_t v;
    int rc = tidl_get_i64(r, &v);
    if (rc < 0)
        return rc;
    return narrow_i32(r, v, ret);
}

/* Varint with at least 10 bytes readable: no bounds check per byte. */
static inline int get_varint_fast(struct tidl_reader *r, uint64_t *ret)
{
    const uint8_t *p = r->p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 63; shift += 7) {
        uint8_t c = *p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            r->p = p;
            *ret = v;
            return 0;
        }
    }
    /* the 10th byte */
    uint8_t c = *p++;
    if (c > 1)
        return err_set(r->e, FLOE_EPROTO, "varint overflows 64 bits");
    r->p = p;
    *ret = v | (uint64_t)c << 63;
    return 0;
}

/* A zigzag varint element of a list: the unchecked path while 10 bytes are left. */
static inline int get_elem_svarint(struct tidl_reader *r, int64_t *ret)
{
    uint64_t u;
    int rc = left(r) >= 10 ? get_varint_fast(r, &u) : tidl_get_uvarint(r, &u);
    if (rc < 0)
        return rc;
    *ret = tidl_unzigzag(u);
    return 0;
}

int tidl_get_i64_elems(struct tidl_reader *r, int64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = get_elem_svarint(r, &out[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int tidl_get_i32_elems(struct tidl_reader *r, int32_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        int rc = get_elem_svarint(r, &v);
        if (rc < 0 || (rc = narrow_i32(r, v, &out[i])) < 0)
            return rc;
    }
    return 0;
}

int tidl_get_double_elems(struct tidl_reader *r, double *out, size_t n)
{
    if (n > left(r) / 8)
        return truncated(r, "list of doubles");
    for (size_t i = 0; i < n; i++) {
        uint64_t u = get_u64le(r->p + 8 * i);
        memcpy(&out[i], &u, sizeof(u));
    }
    r->p += 8 * n;
    return 0;
}

static int bool_byte(struct tidl_reader *r, uint8_t c, bool *ret)
{
    if (c > 1)
        return err_set(r->e, FLOE_EPROTO, "bool byte %u is neither 0 nor 1", c);
    *ret = c == 1;
    return 0;
}

int tidl_get_bool_elems(struct tidl_reader *r, bool *out, size_t n)
{
    if (n > left(r))
        return truncated(r, "list of bools");
    for (size_t i = 0; i < n; i++) {
        int rc = bool_byte(r, r->p[i], &out[i]);
        if (rc < 0)
            return rc;
    }
    r->p += n;
    return 0;
}

int tidl_get_double(struct tidl_reader *r, double *ret)
{
    if (left(r) < 8)
        return truncated(r, "double");
    uint64_t u = get_u64le(r->p);
    r->p += 8;
    memcpy(ret, &u, sizeof(*ret));
    return 0;
}

int tidl_get_bool_elem(struct tidl_reader *r, bool *ret)
{
    if (r->p >= r->end)
        return truncated(r, "bool");
    return bool_byte(r, *r->p++, ret);
}

/* Reads a length prefix and checks it against limits and the bytes left. */
static int get_len(struct tidl_reader *r, size_t *ret)
{
    uint64_t n;
    int rc = tidl_get_uvarint(r, &n);
    if (rc < 0)
        return rc;
    if (n > r->lim->max_string)
        return err_set(r->e, FLOE_ELIMIT, "string of %llu bytes exceeds limit %zu",
                       (unsigned long long)n, r->lim->max_string);
    if (n > left(r))
        return err_set(r->e, FLOE_EPROTO, "truncated message: string of %llu bytes, %zu left",
                       (unsigned long long)n, left(r));
    *ret = (size_t)n;
    return 0;
}

static int charge(struct tidl_reader *r, size_t n)
{
    if (n > r->lim->max_alloc - r->alloc || r->alloc > r->lim->max_alloc)
        return err_set(r->e, FLOE_ELIMIT, "decoding needs more than %zu bytes of memory",
                       r->lim->max_alloc);
    r->alloc += n;
    return 0;
}

int tidl_get_string(struct tidl_reader *r, char **ret)
{
    size_t n = 0;
    int rc = get_len(r, &n);
    if (rc < 0)
        return rc;
    if (memchr(r->p, 0, n))
        return err_set(r->e, FLOE_EPROTO, "string contains a NUL byte");
    if ((rc = charge(r, n + 1)) < 0)
        return rc;
    char *s = xmalloc(n + 1);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    *ret = s;
    return 0;
}

int tidl_get_bin(struct tidl_reader *r, struct tidl_bin *ret)
{
    size_t n = 0;
    int rc = get_len(r, &n);
    if (rc < 0)
        return rc;
    if ((rc = charge(r, n + 1)) < 0)
        return rc;
    ret->data = xmalloc(n + 1);
    memcpy(ret->data, r->p, n);
    ret->len = n;
    r->p += n;
    return 0;
}

int tidl_get_field(struct tidl_reader *r, uint32_t *ret_id, enum tidl_wire *ret_w)
{
    uint64_t h;
    int rc = tidl_get_uvarint(r, &h);
    if (rc < 0)
        return rc;
    unsigned w = (unsigned)(h & 15);
    uint64_t id = h >> 4;
    if (h == 0) {
        *ret_id = 0;
        *ret_w = TIDL_W_STOP;
        return 0;
    }
    if (id == 0 || id > 0xffff)
        return err_set(r->e, FLOE_EPROTO, "bad field id %llu", (unsigned long long)id);
    if (w == TIDL_W_STOP || w > TIDL_W_MAX_)
        return err_set(r->e, FLOE_EPROTO, "field %llu: bad wire type %u", (unsigned long long)id, w);
    *ret_id = (uint32_t)id;
    *ret_w = (enum tidl_wire)w;
    return 0;
}

static int elem_type(struct tidl_reader *r, unsigned t, const char *what)
{
    if (t == TIDL_W_STOP || t == TIDL_W_FALSE || t > TIDL_W_MAX_)
        return err_set(r->e, FLOE_EPROTO, "%s: bad element type %u", what, t);
    return 0;
}

static int get_count(struct tidl_reader *r, size_t per_elem, const char *what, size_t *ret)
{
    uint64_t n;
    int rc = tidl_get_uvarint(r, &n);
    if (rc < 0)
        return rc;
    if (n > r->lim->max_list)
        return err_set(r->e, FLOE_ELIMIT, "%s of %llu elements exceeds limit %zu", what,
                       (unsigned long long)n, r->lim->max_list);
    if (r->p >= r->end)
        return truncated(r, what);
    /* the type byte follows; every element needs at least per_elem bytes */
    if (n > (left(r) - 1) / per_elem)
        return err_set(r->e, FLOE_EPROTO, "truncated message: %s of %llu elements in %zu bytes",
                       what, (unsigned long long)n, left(r) - 1);
    *ret = (size_t)n;
    return 0;
}

static int read_list_header(struct tidl_reader *r, enum tidl_wire *ret_elem, size_t *ret_count)
{
    if (r->p >= r->end)
        return truncated(r, "list");
    /* peek the element type after the count to size-check the count */
    const uint8_t *save = r->p;
    uint64_t n;
    int rc = tidl_get_uvarint(r, &n);
    if (rc < 0)
        return rc;
    if (r->p >= r->end)
        return truncated(r, "list");
    unsigned t = *r->p;
    if ((rc = elem_type(r, t, "list")) < 0)
        return rc;
    r->p = save;
    if ((rc = get_count(r, min_size((enum tidl_wire)t), "list", ret_count)) < 0)
        return rc;
    r->p++;
    *ret_elem = (enum tidl_wire)t;
    return 0;
}

static int read_map_header(struct tidl_reader *r, enum tidl_wire *ret_k, enum tidl_wire *ret_v,
                           size_t *ret_count)
{
    const uint8_t *save = r->p;
    uint64_t n;
    int rc = tidl_get_uvarint(r, &n);
    if (rc < 0)
        return rc;
    if (r->p >= r->end)
        return truncated(r, "map");
    unsigned k = *r->p >> 4, v = *r->p & 15;
    if ((rc = elem_type(r, k, "map key")) < 0 || (rc = elem_type(r, v, "map value")) < 0)
        return rc;
    r->p = save;
    size_t per = min_size((enum tidl_wire)k) + min_size((enum tidl_wire)v);
    if ((rc = get_count(r, per, "map", ret_count)) < 0)
        return rc;
    r->p++;
    *ret_k = (enum tidl_wire)k;
    *ret_v = (enum tidl_wire)v;
    return 0;
}

int tidl_get_list_header(struct tidl_reader *r, enum tidl_wire elem, size_t *ret_count)
{
    enum tidl_wire t = 0;
    int rc = read_list_header(r, &t, ret_count);
    if (rc < 0)
        return rc;
    if (*ret_count > 0 && t != elem)
        return err_set(r->e, FLOE_EPROTO, "list of %s, expected list of %s", tidl_wire_name(t),
                       tidl_wire_name(elem));
    return 0;
}

int tidl_get_map_header(struct tidl_reader *r, enum tidl_wire key, enum tidl_wire val,
                        size_t *ret_count)
{
    enum tidl_wire k = 0, v = 0;
    int rc = read_map_header(r, &k, &v, ret_count);
    if (rc < 0)
        return rc;
    if (*ret_count > 0 && (k != key || v != val))
        return err_set(r->e, FLOE_EPROTO, "map<%s,%s>, expected map<%s,%s>", tidl_wire_name(k),
                       tidl_wire_name(v), tidl_wire_name(key), tidl_wire_name(val));
    return 0;
}

int tidl_enter(struct tidl_reader *r)
{
    if (r->depth >= r->lim->max_depth)
        return err_set(r->e, FLOE_ELIMIT, "nesting deeper than limit %u", r->lim->max_depth);
    r->depth++;
    return 0;
}

/* Skips one element of a list or map (bools are a byte there). */
static int skip_elem(struct tidl_reader *r, enum tidl_wire w)
{
    if (w == TIDL_W_TRUE) {
        bool b;
        return tidl_get_bool_elem(r, &b);
    }
    return tidl_skip(r, w);
}

int tidl_skip(struct tidl_reader *r, enum tidl_wire w)
{
    int rc = 0;
    uint64_t u;
    size_t n = 0;
    switch (w) {
    case TIDL_W_TRUE:
    case TIDL_W_FALSE:
        return 0;
    case TIDL_W_VARINT:
        return tidl_get_uvarint(r, &u);
    case TIDL_W_DOUBLE:
        if (left(r) < 8)
            return truncated(r, "double");
        r->p += 8;
        return 0;
    case TIDL_W_BYTES:
        if ((rc = get_len(r, &n)) < 0)
            return rc;
        r->p += n;
        return 0;
    case TIDL_W_LIST: {
        enum tidl_wire t = 0;
        if ((rc = tidl_enter(r)) < 0)
            return rc;
        if ((rc = read_list_header(r, &t, &n)) < 0)
            return rc;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = skip_elem(r, t);
        tidl_leave(r);
        return rc;
    }
    case TIDL_W_MAP: {
        enum tidl_wire k = 0, v = 0;
        if ((rc = tidl_enter(r)) < 0)
            return rc;
        if ((rc = read_map_header(r, &k, &v, &n)) < 0)
            return rc;
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = skip_elem(r, k);
            if (rc == 0)
                rc = skip_elem(r, v);
        }
        tidl_leave(r);
        return rc;
    }
    case TIDL_W_STRUCT: {
        if ((rc = tidl_enter(r)) < 0)
            return rc;
        for (;;) {
            uint32_t id;
            enum tidl_wire fw;
            if ((rc = tidl_get_field(r, &id, &fw)) < 0 || id == 0)
                break;
            if ((rc = tidl_skip(r, fw)) < 0)
                break;
        }
        tidl_leave(r);
        return rc;
    }
    default:
        return err_set(r->e, FLOE_EPROTO, "bad wire type %u", (unsigned)w);
    }
}

int tidl_alloc_array(struct tidl_reader *r, size_t n, size_t size, void **ret)
{
    *ret = NULL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / size)
        return err_set(r->e, FLOE_ELIMIT, "array of %zu elements is too large", n);
    int rc = charge(r, n * size);
    if (rc < 0)
        return rc;
    *ret = xcalloc(n, size);
    return 0;
}

int tidl_wire_mismatch(struct tidl_reader *r, enum tidl_wire got, enum tidl_wire want)
{
    return err_set(r->e, FLOE_EPROTO, "wire type %s, expected %s", tidl_wire_name(got),
                   tidl_wire_name(want));
}

void tidl_fail_prefix(struct tidl_reader *r, const char *strct, const char *field)
{
    if (r->depth > 8)
        return;
    if (r->depth == 8)
        err_prefix(r->e, "...");
    else if (field)
        err_prefix(r->e, "%s.%s", strct, field);
    else
        err_prefix(r->e, "%s", strct);
}

int tidl_missing(struct tidl_reader *r, const char *field)
{
    return err_set(r->e, FLOE_EPROTO, "required field %s is missing", field);
}

void tidl_bin_release(struct tidl_bin *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void tidl_set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

void *tidl_array_add(void **arr, size_t *len, size_t size)
{
    size_t n = *len;
    /* exact-size realloc: arrays also come from the decoder with no spare room */
    *arr = xrealloc(*arr, (n + 1) * size);
    char *p = (char *)*arr + n * size;
    memset(p, 0, size);
    *len = n + 1;
    return p;
}
