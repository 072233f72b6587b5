/*
 * fejson: small typed getters over jansson used by the FE's record and image
 * readers. Each error is FLOE_ECORRUPT naming the field and the context.
 */
#ifndef FLOE_FE_FEJSON_H
#define FLOE_FE_FEJSON_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

static inline int fj_i64(const json_t *o, const char *k, int64_t *ret, const char *ctx, struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' missing or not an integer", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

static inline int fj_opt_i64(const json_t *o, const char *k, int64_t def, int64_t *ret,
                             const char *ctx, struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        *ret = def;
        return 0;
    }
    if (!json_is_integer(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' is not an integer", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

static inline int fj_str(const json_t *o, const char *k, const char **ret, const char *ctx, struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' missing or not a string", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = json_string_value(v);
    return 0;
}

/* Missing or null gives NULL. */
static inline int fj_opt_str(const json_t *o, const char *k, const char **ret, const char *ctx,
                             struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *ret = NULL;
        return 0;
    }
    if (!json_is_string(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' is not a string", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = json_string_value(v);
    return 0;
}

static inline int fj_opt_bool(const json_t *o, const char *k, bool *ret, const char *ctx, struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        *ret = false;
        return 0;
    }
    if (!json_is_boolean(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' is not a boolean", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = json_is_true(v);
    return 0;
}

static inline int fj_array(const json_t *o, const char *k, json_t **ret, const char *ctx, struct err *e)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_array(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: field '%s' missing or not an array", ctx, k);
        return FLOE_ECORRUPT;
    }
    *ret = v;
    return 0;
}

/* Element i of an array as an integer. */
static inline int fj_at_i64(const json_t *a, size_t i, int64_t *ret, const char *ctx, struct err *e)
{
    json_t *v = json_array_get(a, i);
    if (!json_is_integer(v)) {
        err_set(e, FLOE_ECORRUPT, "%s: element %zu is not an integer", ctx, i);
        return FLOE_ECORRUPT;
    }
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

#endif
