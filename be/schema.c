/* schema: column definitions, validation and their JSON form. */
#include "schema.h"

#include "buf.h"
#include "err.h"
#include "jsonutil.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [COL_INT32] = "int32", [COL_INT64] = "int64", [COL_DOUBLE] = "double",
    [COL_BOOL] = "bool", [COL_STRING] = "string", [COL_TIMESTAMP] = "timestamp",
};

bool col_type_valid(int t) { return t >= COL_INT32 && t <= COL_TIMESTAMP; }

const char *col_type_name(enum col_type t)
{
    return col_type_valid((int)t) ? type_names[t] : "?";
}

int col_type_parse(const char *s, enum col_type *ret)
{
    for (int t = COL_INT32; t <= COL_TIMESTAMP; t++) {
        if (strcmp(s, type_names[t]) == 0) {
            *ret = (enum col_type)t;
            return 0;
        }
    }
    return FLOE_EBADINPUT;
}

size_t col_type_width(enum col_type t)
{
    switch (t) {
    case COL_INT32: return 4;
    case COL_INT64: case COL_DOUBLE: case COL_TIMESTAMP: return 8;
    case COL_BOOL: return 1;
    default: return 0;
    }
}

int schema_new(const struct column_def *cols, int ncols, enum key_model model,
               struct schema **ret, struct err *e)
{
    *ret = NULL;
    if (ncols < 1 || ncols > SCHEMA_MAX_COLS)
        return err_set(e, FLOE_EBADINPUT, "schema: %d columns, expected 1..%d", ncols, SCHEMA_MAX_COLS);
    if (model != KEY_DUPLICATE && model != KEY_UNIQUE)
        return err_set(e, FLOE_EBADINPUT, "schema: unknown key model %d", (int)model);
    int nkeys = 0;
    bool keys_done = false;
    for (int i = 0; i < ncols; i++) {
        const struct column_def *c = &cols[i];
        if (!c->name || !*c->name || strlen(c->name) > SCHEMA_MAX_NAME)
            return err_set(e, FLOE_EBADINPUT, "schema: column %d: name must be 1..%d bytes", i, SCHEMA_MAX_NAME);
        if (!col_type_valid((int)c->type))
            return err_set(e, FLOE_EBADINPUT, "schema: column '%s': unknown type %d", c->name, (int)c->type);
        for (int j = 0; j < i; j++)
            if (strcmp(cols[j].name, c->name) == 0)
                return err_set(e, FLOE_EBADINPUT, "schema: duplicate column name '%s'", c->name);
        if (c->is_key) {
            if (keys_done)
                return err_set(e, FLOE_EBADINPUT, "schema: key column '%s' must come before value columns", c->name);
            if (c->nullable)
                return err_set(e, FLOE_EBADINPUT, "schema: key column '%s' cannot be nullable", c->name);
            nkeys++;
        } else {
            keys_done = true;
        }
    }
    if (model == KEY_UNIQUE && nkeys == 0)
        return err_set(e, FLOE_EBADINPUT, "schema: the unique model needs at least one key column");
    struct schema *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    s->ncols = ncols;
    s->nkeys = nkeys;
    s->model = model;
    s->cols = xcalloc((size_t)ncols, sizeof(*s->cols));
    for (int i = 0; i < ncols; i++) {
        s->cols[i] = cols[i];
        s->cols[i].name = xstrdup(cols[i].name);
    }
    *ret = s;
    return 0;
}

struct schema *schema_ref(struct schema *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void schema_unref(struct schema *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i].name);
    free(s->cols);
    free(s);
}

int schema_find(const struct schema *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return i;
    return -1;
}

bool schema_equal(const struct schema *a, const struct schema *b)
{
    if (a->ncols != b->ncols || a->nkeys != b->nkeys || a->model != b->model)
        return false;
    for (int i = 0; i < a->ncols; i++) {
        const struct column_def *x = &a->cols[i], *y = &b->cols[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->nullable != y->nullable || x->is_key != y->is_key)
            return false;
    }
    return true;
}

json_t *schema_to_json(const struct schema *s)
{
    json_t *cols = json_array();
    for (int i = 0; i < s->ncols; i++) {
        const struct column_def *c = &s->cols[i];
        json_array_append_new(cols, json_pack("{s:s, s:s, s:b, s:b}", "name", c->name,
                                              "type", col_type_name(c->type),
                                              "nullable", c->nullable, "key", c->is_key));
    }
    return json_pack("{s:s, s:o}", "model", s->model == KEY_UNIQUE ? "unique" : "duplicate",
                     "columns", cols);
}

int schema_from_json(const json_t *j, struct schema **ret, const char *ctx, struct err *e)
{
    *ret = NULL;
    const char *model;
    json_t *cols;
    int r;
    if ((r = json_get_str(j, "model", &model, ctx, e)) < 0 ||
        (r = json_get_array(j, "columns", &cols, ctx, e)) < 0)
        return r;
    enum key_model km;
    if (strcmp(model, "unique") == 0)
        km = KEY_UNIQUE;
    else if (strcmp(model, "duplicate") == 0)
        km = KEY_DUPLICATE;
    else
        return err_set(e, FLOE_ECORRUPT, "%s: unknown key model '%s'", ctx, model);
    size_t n = json_array_size(cols);
    if (n < 1 || n > SCHEMA_MAX_COLS)
        return err_set(e, FLOE_ECORRUPT, "%s: %zu columns, expected 1..%d", ctx, n, SCHEMA_MAX_COLS);
    struct column_def *defs = xcalloc(n, sizeof(*defs));
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cols, i);
        const char *name, *type;
        bool nullable, key;
        if ((r = json_get_str(c, "name", &name, ctx, e)) < 0 ||
            (r = json_get_str(c, "type", &type, ctx, e)) < 0 ||
            (r = json_get_bool(c, "nullable", &nullable, ctx, e)) < 0 ||
            (r = json_get_bool(c, "key", &key, ctx, e)) < 0)
            goto out;
        if (col_type_parse(type, &defs[i].type) < 0) {
            r = err_set(e, FLOE_ECORRUPT, "%s: column '%s': unknown type '%s'", ctx, name, type);
            goto out;
        }
        defs[i].name = (char *)name;
        defs[i].nullable = nullable;
        defs[i].is_key = key;
    }
    r = schema_new(defs, (int)n, km, ret, e);
    if (r < 0) {
        err_prefix(e, "%s", ctx);
        r = FLOE_ECORRUPT;
        if (e)
            e->code = r;
    }
out:
    free(defs);
    return r;
}
