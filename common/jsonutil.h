/*
 * jsonutil: typed field access on jansson objects with clear errors, used by
 * every JSON reader in floe (tablet meta, remote meta, journal). Each getter
 * names the field and the context ("tablet meta /x/12.json") in its error.
 */
#ifndef FLOE_JSONUTIL_H
#define FLOE_JSONUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;
struct buf;

/* Required fields: FLOE_ECORRUPT when missing or of the wrong type. */
int json_get_i64(const json_t *obj, const char *key, int64_t *ret, const char *ctx, struct err *e);
int json_get_bool(const json_t *obj, const char *key, bool *ret, const char *ctx, struct err *e);
int json_get_double(const json_t *obj, const char *key, double *ret, const char *ctx, struct err *e);
/* Borrowed string, valid while obj lives. */
int json_get_str(const json_t *obj, const char *key, const char **ret, const char *ctx, struct err *e);
int json_get_array(const json_t *obj, const char *key, json_t **ret, const char *ctx, struct err *e);
int json_get_object(const json_t *obj, const char *key, json_t **ret, const char *ctx, struct err *e);
/* Optional fields: def when missing; wrong type is still an error. */
int json_opt_i64(const json_t *obj, const char *key, int64_t def, int64_t *ret, const char *ctx, struct err *e);
int json_opt_str(const json_t *obj, const char *key, const char *def, const char **ret, const char *ctx, struct err *e);
/* Parses text into a new reference; FLOE_ECORRUPT with line:column on error. */
int json_parse(const char *text, size_t len, json_t **ret, const char *ctx, struct err *e);
/* Serialises compactly (sorted keys) into out, appending. */
int json_dump_buf(const json_t *j, struct buf *out, struct err *e);

#endif
