/*
 * jsonutil: typed getters over jansson objects. Every failure is
 * FLOE_ECORRUPT with a message "<ctx>: field '<key>' ..." so a reader of
 * tablet meta, remote meta or the journal says which file and which field
 * is wrong. Parsing rejects duplicate keys: a second value for a key in a
 * metadata file is corruption, not something to pick a winner for.
 */
#include "jsonutil.h"

#include "buf.h"
#include "err.h"

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static const char *ctx_or(const char *ctx)
{
    return ctx ? ctx : "json";
}

/* Looks key up in obj. Returns 1 found, 0 missing, <0 when obj is no object. */
static int lookup(const json_t *obj, const char *key, json_t **ret, const char *ctx, struct err *e)
{
    if (!obj || !json_is_object(obj))
        return err_set(e, FLOE_ECORRUPT, "%s: expected an object holding field '%s', got %s",
                       ctx_or(ctx), key, obj ? type_name(obj) : "nothing");
    *ret = json_object_get(obj, key);
    return *ret != NULL;
}

/* The JSON kind a getter accepts; also indexes want_name. */
enum want { WANT_INT, WANT_BOOL, WANT_NUM, WANT_STR, WANT_ARR, WANT_OBJ };

static const char *const want_name[] = {
    [WANT_INT] = "an integer", [WANT_BOOL] = "a boolean", [WANT_NUM] = "a number",
    [WANT_STR] = "a string",   [WANT_ARR] = "an array",   [WANT_OBJ] = "an object",
};

static bool is_wanted(const json_t *v, enum want w)
{
    switch (w) {
    case WANT_INT: return json_is_integer(v);
    case WANT_BOOL: return json_is_boolean(v);
    case WANT_NUM: return json_is_number(v);
    case WANT_STR: return json_is_string(v);
    case WANT_ARR: return json_is_array(v);
    case WANT_OBJ: return json_is_object(v);
    }
    return false;
}

/*
 * Looks key up in obj and checks its kind. Returns 1 found, 0 missing
 * (only when !required), <0 when obj is no object, a required key is
 * missing or the value is of another kind.
 */
static int find(const json_t *obj, const char *key, enum want w, bool required, json_t **ret,
                const char *ctx, struct err *e)
{
    int r = lookup(obj, key, ret, ctx, e);
    if (r < 0)
        return r;
    if (r == 0) {
        if (required)
            return err_set(e, FLOE_ECORRUPT, "%s: field '%s' is missing", ctx_or(ctx), key);
        return 0;
    }
    if (!is_wanted(*ret, w))
        return err_set(e, FLOE_ECORRUPT, "%s: field '%s' should be %s, got %s", ctx_or(ctx), key,
                       want_name[w], type_name(*ret));
    return 1;
}

int json_get_i64(const json_t *obj, const char *key, int64_t *ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_INT, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

int json_get_bool(const json_t *obj, const char *key, bool *ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_BOOL, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = json_is_true(v);
    return 0;
}

int json_get_double(const json_t *obj, const char *key, double *ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_NUM, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = json_number_value(v);
    return 0;
}

int json_get_str(const json_t *obj, const char *key, const char **ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_STR, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = json_string_value(v);
    return 0;
}

int json_get_array(const json_t *obj, const char *key, json_t **ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_ARR, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int json_get_object(const json_t *obj, const char *key, json_t **ret, const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_OBJ, true, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int json_opt_i64(const json_t *obj, const char *key, int64_t def, int64_t *ret, const char *ctx,
                 struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_INT, false, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = r ? (int64_t)json_integer_value(v) : def;
    return 0;
}

int json_opt_str(const json_t *obj, const char *key, const char *def, const char **ret,
                 const char *ctx, struct err *e)
{
    json_t *v = NULL;
    int r = find(obj, key, WANT_STR, false, &v, ctx, e);
    if (r < 0)
        return r;
    *ret = r ? json_string_value(v) : def;
    return 0;
}

int json_parse(const char *text, size_t len, json_t **ret, const char *ctx, struct err *e)
{
    json_error_t je;
    json_t *j = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(e, FLOE_ECORRUPT, "%s: invalid JSON at line %d column %d: %s", ctx_or(ctx),
                       je.line, je.column, je.text);
    *ret = j;
    return 0;
}

int json_dump_buf(const json_t *j, struct buf *out, struct err *e)
{
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    size_t need_len = json_dumpb(j, NULL, 0, flags);
    if (need_len == 0)
        return err_set(e, FLOE_EBADINPUT, "json: value cannot be serialised");
    buf_grow(out, need_len);
    size_t n = json_dumpb(j, out->data + out->len, need_len, flags);
    if (n != need_len)
        return err_set(e, FLOE_EINTERNAL, "json: serialised size changed (%zu then %zu)", need_len, n);
    buf_setlen(out, out->len + n);
    return 0;
}
