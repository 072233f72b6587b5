/* csv: a single-pass CSV parser that converts fields straight into typed columns. */
#include "csv.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


void csv_batch_release(struct csv_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncols && b->cols; i++) {
        free(b->cols[i].nulls);
        free(b->cols[i].data);
        free(b->cols[i].offs);
        buf_release(&b->cols[i].str);
    }
    free(b->cols);
    memset(b, 0, sizeof(*b));
}

static size_t type_width(int t)
{
    switch (t) {
    case CSV_INT32: return 4;
    case CSV_BOOL: return 1;
    case CSV_STRING: return 0;
    default: return 8;
    }
}

static void grow(struct csv_batch *b, size_t rows)
{
    if (rows <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap * 2 : 1024;
    while (ncap < rows)
        ncap *= 2;
    for (int i = 0; i < b->ncols; i++) {
        struct csv_column *c = &b->cols[i];
        if (c->type == CSV_STRING) {
            c->offs = xrealloc(c->offs, (ncap + 1) * sizeof(uint32_t));
            if (b->cap == 0)
                c->offs[0] = 0;
        } else {
            c->data = xrealloc(c->data, ncap * type_width(c->type));
        }
        if (c->nulls) {
            c->nulls = xrealloc(c->nulls, ncap);
            memset(c->nulls + b->cap, 0, ncap - b->cap);
        }
    }
    b->cap = ncap;
}

static bool parse_i64(const char *s, size_t n, int64_t *ret)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (n == 1)
            return false;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *ret = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *ret = (int64_t)v;
    }
    return true;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *ret)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

int csv_parse_timestamp(const char *s, size_t n, int64_t *ret)
{
    if (n > 0 && s[n - 1] == 'Z')
        n--;
    if (n < 10 || s[4] != '-') {
        int64_t v;
        if (parse_i64(s, n, &v)) {
            *ret = v;
            return 0;
        }
        return FLOE_EBADINPUT;
    }
    unsigned y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    if (s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d))
        return FLOE_EBADINPUT;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return FLOE_EBADINPUT;
    static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && !leap && d > 28))
        return FLOE_EBADINPUT;
    if (n > 10) {
        if ((s[10] != ' ' && s[10] != 'T') || n < 19 || s[13] != ':' || s[16] != ':' ||
            !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
            h > 23 || mi > 59 || se > 60)
            return FLOE_EBADINPUT;
        if (n > 19) {
            size_t fl = n - 20;
            if (s[19] != '.' || fl < 1 || fl > 6 || !digits(s + 20, fl, &frac))
                return FLOE_EBADINPUT;
            for (size_t k = fl; k < 6; k++)
                frac *= 10;
        }
    }
    int64_t days = days_from_civil((int64_t)y, mo, d);
    *ret = ((days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se) * 1000000) + frac;
    return 0;
}

void csv_format_timestamp(int64_t us, char out[40])
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 40, "%04lld-%02u-%02u %02d:%02d:%02d.%06d", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}

struct field {
    const char *p;
    size_t n;
    bool quoted;
};

static const char *colname(const struct csv_options *o, int c, char tmp[16])
{
    if (o && o->names && o->names[c])
        return o->names[c];
    snprintf(tmp, 16, "#%d", c + 1);
    return tmp;
}

static int put_value(struct csv_batch *b, int c, const struct field *f, bool nullable,
                     const struct csv_options *o, size_t line, struct buf *tmp, struct err *e)
{
    struct csv_column *col = &b->cols[c];
    size_t row = b->nrows;
    char nm[16];
    bool is_null = !f->quoted && (f->n == 0 || (f->n == 2 && f->p[0] == '\\' && f->p[1] == 'N'));
    if (is_null) {
        if (!nullable)
            return err_set(e, FLOE_EBADINPUT, "line %zu column %d ('%s'): NULL in a non-nullable column",
                           line, c + 1, colname(o, c, nm));
        if (!col->nulls)
            col->nulls = xcalloc(b->cap, 1);
        col->nulls[row] = 1;
        if (col->type == CSV_STRING)
            col->offs[row + 1] = (uint32_t)col->str.len;
        else
            memset((char *)col->data + row * type_width(col->type), 0, type_width(col->type));
        return 0;
    }
    const char *what = NULL;
    int64_t iv;
    switch (col->type) {
    case CSV_INT32:
        if (!parse_i64(f->p, f->n, &iv) || iv < INT32_MIN || iv > INT32_MAX)
            what = "int32";
        else
            ((int32_t *)col->data)[row] = (int32_t)iv;
        break;
    case CSV_INT64:
        if (!parse_i64(f->p, f->n, &iv))
            what = "int64";
        else
            ((int64_t *)col->data)[row] = iv;
        break;
    case CSV_TIMESTAMP:
        if (csv_parse_timestamp(f->p, f->n, &iv) < 0)
            what = "timestamp";
        else
            ((int64_t *)col->data)[row] = iv;
        break;
    case CSV_DOUBLE: {
        buf_reset(tmp);
        buf_append(tmp, f->p, f->n);
        char *end;
        errno = 0;
        double d = f->n ? strtod(buf_cstr(tmp), &end) : 0;
        if (f->n == 0 || *end || (errno == ERANGE && isinf(d)) || isspace((unsigned char)f->p[0]))
            what = "double";
        else
            ((double *)col->data)[row] = d;
        break;
    }
    case CSV_BOOL: {
        int v = -1;
        if ((f->n == 4 && strncasecmp(f->p, "true", 4) == 0) || (f->n == 1 && (f->p[0] == '1' || f->p[0] == 't' || f->p[0] == 'T')))
            v = 1;
        else if ((f->n == 5 && strncasecmp(f->p, "false", 5) == 0) || (f->n == 1 && (f->p[0] == '0' || f->p[0] == 'f' || f->p[0] == 'F')))
            v = 0;
        if (v < 0)
            what = "bool";
        else
            ((uint8_t *)col->data)[row] = (uint8_t)v;
        break;
    }
    case CSV_STRING:
        if ((uint64_t)col->str.len + f->n >= UINT32_MAX)
            return err_set(e, FLOE_EBADINPUT, "line %zu column %d ('%s'): too much string data in one batch",
                           line, c + 1, colname(o, c, nm));
        if (f->quoted) {
            /* unescape "" */
            for (size_t k = 0; k < f->n; k++) {
                buf_putc(&col->str, f->p[k]);
                if (f->p[k] == '"')
                    k++;
            }
        } else {
            buf_append(&col->str, f->p, f->n);
        }
        col->offs[row + 1] = (uint32_t)col->str.len;
        break;
    default:
        return err_set(e, FLOE_EBADINPUT, "column %d: unknown type %d", c + 1, col->type);
    }
    if (what) {
        int shown = f->n > 40 ? 40 : (int)f->n;
        return err_set(e, FLOE_EBADINPUT, "line %zu column %d ('%s'): bad %s value '%.*s%s'", line, c + 1,
                       colname(o, c, nm), what, shown, f->p, f->n > 40 ? "..." : "");
    }
    return 0;
}

int csv_parse(const char *data, size_t len, int ncols, const int *types, const bool *nullable,
              const struct csv_options *o, struct csv_batch *b, struct err *e)
{
    memset(b, 0, sizeof(*b));
    if (ncols < 1)
        return err_set(e, FLOE_EBADINPUT, "csv: no columns");
    for (int c = 0; c < ncols; c++)
        if (types[c] < CSV_INT32 || types[c] > CSV_TIMESTAMP)
            return err_set(e, FLOE_EBADINPUT, "csv: column %d has unknown type %d", c + 1, types[c]);
    char delim = o && o->delim ? o->delim : ',';
    b->ncols = ncols;
    b->cols = xcalloc((size_t)ncols, sizeof(*b->cols));
    for (int c = 0; c < ncols; c++) {
        b->cols[c].type = types[c];
        buf_init(&b->cols[c].str);
    }
    grow(b, 1024);
    struct buf tmp = BUF_INIT;
    int r = 0;
    size_t pos = 0, line = 1;
    bool skip = o && o->header;
    while (pos < len) {
        size_t rec_line = line;
        /* a blank line (only at the end or between records) is skipped */
        if (data[pos] == '\n' || (data[pos] == '\r' && pos + 1 < len && data[pos + 1] == '\n')) {
            pos += data[pos] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        if (!skip)
            grow(b, b->nrows + 1);
        int c = 0;
        for (;;) {
            struct field f = { data + pos, 0, false };
            if (pos < len && data[pos] == '"') {
                size_t start = ++pos;
                for (;;) {
                    if (pos >= len) {
                        r = err_set(e, FLOE_EBADINPUT, "line %zu column %d: unterminated quoted field", rec_line, c + 1);
                        goto out;
                    }
                    if (data[pos] == '"') {
                        if (pos + 1 < len && data[pos + 1] == '"') {
                            pos += 2;
                            continue;
                        }
                        break;
                    }
                    if (data[pos] == '\n')
                        line++;
                    pos++;
                }
                f.p = data + start;
                f.n = pos - start;
                f.quoted = true;
                pos++;
                if (pos < len && data[pos] != delim && data[pos] != '\n' && data[pos] != '\r') {
                    r = err_set(e, FLOE_EBADINPUT, "line %zu column %d: unexpected character after closing quote",
                                rec_line, c + 1);
                    goto out;
                }
            } else {
                const char *p = data + pos, *end = data + len;
                while (p < end && *p != delim && *p != '\n' && *p != '\r' && *p != '"')
                    p++;
                if (p < end && *p == '"') {
                    r = err_set(e, FLOE_EBADINPUT, "line %zu column %d: quote inside an unquoted field", rec_line, c + 1);
                    goto out;
                }
                f.n = (size_t)(p - f.p);
                pos = (size_t)(p - data);
            }
            if (c >= ncols) {
                r = err_set(e, FLOE_EBADINPUT, "line %zu: more than %d fields", rec_line, ncols);
                goto out;
            }
            if (!skip && (r = put_value(b, c, &f, nullable[c], o, rec_line, &tmp, e)) < 0)
                goto out;
            c++;
            if (pos < len && data[pos] == delim) {
                pos++;
                continue;
            }
            /* end of record */
            if (pos < len && data[pos] == '\r') {
                if (pos + 1 < len && data[pos + 1] == '\n') {
                    pos++;
                } else {
                    r = err_set(e, FLOE_EBADINPUT, "line %zu column %d: stray carriage return", rec_line, c);
                    goto out;
                }
            }
            if (pos < len) {
                pos++; /* '\n' */
                line++;
            }
            break;
        }
        if (c != ncols) {
            r = err_set(e, FLOE_EBADINPUT, "line %zu: %d fields, expected %d", rec_line, c, ncols);
            goto out;
        }
        if (skip)
            skip = false;
        else
            b->nrows++;
    }
out:
    buf_release(&tmp);
    if (r < 0)
        csv_batch_release(b);
    return r;
}
