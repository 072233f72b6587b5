/* idl_conv: wire <-> engine conversions with validation. */
#include "idl_conv.h"

#include "buf.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

int idl_conv_schema_from(const struct idl_tablet_schema *in, struct schema **ret, struct err *e)
{
    *ret = NULL;
    if (in->columns_len < 1 || in->columns_len > SCHEMA_MAX_COLS)
        return err_set(e, FLOE_EBADINPUT, "schema: %zu columns, expected 1..%d", in->columns_len, SCHEMA_MAX_COLS);
    if (in->key_model != IDL_KEY_MODEL_DUPLICATE && in->key_model != IDL_KEY_MODEL_UNIQUE)
        return err_set(e, FLOE_EBADINPUT, "schema: unknown key model %d", (int)in->key_model);
    struct column_def *defs = xcalloc(in->columns_len, sizeof(*defs));
    for (size_t i = 0; i < in->columns_len; i++) {
        const struct idl_column_def *c = &in->columns[i];
        defs[i].name = c->name ? c->name : "";
        defs[i].type = (enum col_type)c->type;
        defs[i].nullable = c->nullable;
        defs[i].is_key = c->is_key;
    }
    int r = schema_new(defs, (int)in->columns_len, (enum key_model)in->key_model, ret, e);
    free(defs);
    return r;
}

void idl_conv_schema_to(const struct schema *s, const int *proj, int nproj, struct idl_tablet_schema *out)
{
    int n = proj ? nproj : s->ncols;
    out->key_model = s->model;
    for (int i = 0; i < n; i++) {
        const struct column_def *c = &s->cols[proj ? proj[i] : i];
        struct idl_column_def *d = idl_tablet_schema_add_columns(out);
        tidl_set_str(&d->name, c->name);
        d->type = (int32_t)c->type;
        d->nullable = c->nullable;
        d->is_key = c->is_key;
    }
}

int idl_conv_batch_from(const struct idl_row_batch *in, const struct schema *s, struct column_batch *b,
                        struct err *e)
{
    column_batch_init_schema(b, s, NULL, 0);
    if (in->num_rows < 0)
        return err_set(e, FLOE_EBADINPUT, "batch: negative row count %d", (int)in->num_rows);
    if (in->columns_len != (size_t)s->ncols) {
        return err_set(e, FLOE_EBADINPUT, "batch: %zu columns, the tablet schema has %d", in->columns_len,
                       s->ncols);
    }
    size_t n = (size_t)in->num_rows;
    column_batch_reserve(b, n);
    for (int c = 0; c < s->ncols; c++) {
        const struct idl_column_data *d = &in->columns[c];
        const struct column_def *cd = &s->cols[c];
        struct column_vec *v = &b->cols[c];
        if (d->type != (int32_t)cd->type)
            return err_set(e, FLOE_EBADINPUT, "batch column '%s': type %d, schema type %s", cd->name, (int)d->type,
                           col_type_name(cd->type));
        if (d->nulls.len) {
            if (d->nulls.len != (n + 7) / 8)
                return err_set(e, FLOE_EBADINPUT, "batch column '%s': null bitmap of %zu bytes for %zu rows",
                               cd->name, d->nulls.len, n);
            v->nulls = xcalloc(b->cap, 1);
            for (size_t i = 0; i < n; i++)
                v->nulls[i] = (d->nulls.data[i >> 3] >> (i & 7)) & 1;
        }
        size_t have;
        switch (cd->type) {
        case COL_INT32: have = d->i32s_len; break;
        case COL_INT64: case COL_TIMESTAMP: have = d->i64s_len; break;
        case COL_DOUBLE: have = d->f64s_len; break;
        case COL_BOOL: have = d->bools_len; break;
        default: have = d->str_lens_len; break;
        }
        if (have != n)
            return err_set(e, FLOE_EBADINPUT, "batch column '%s': %zu values for %zu rows", cd->name, have, n);
        switch (cd->type) {
        case COL_INT32: if (n) memcpy(v->data, d->i32s, n * 4); break;
        case COL_INT64: case COL_TIMESTAMP: if (n) memcpy(v->data, d->i64s, n * 8); break;
        case COL_DOUBLE: if (n) memcpy(v->data, d->f64s, n * 8); break;
        case COL_BOOL:
            for (size_t i = 0; i < n; i++)
                ((uint8_t *)v->data)[i] = d->bools[i] ? 1 : 0;
            break;
        default: {
            uint64_t total = 0;
            for (size_t i = 0; i < n; i++) {
                if (d->str_lens[i] < 0)
                    return err_set(e, FLOE_EBADINPUT, "batch column '%s' row %zu: negative string length", cd->name, i);
                total += (uint64_t)d->str_lens[i];
                if (total > d->str_data.len)
                    break;
                v->offs[i + 1] = (uint32_t)total;
            }
            if (total != d->str_data.len)
                return err_set(e, FLOE_EBADINPUT, "batch column '%s': string lengths sum to %llu, data has %zu bytes",
                               cd->name, (unsigned long long)total, d->str_data.len);
            buf_append(&v->str, d->str_data.data, d->str_data.len);
            break;
        }
        }
    }
    b->nrows = n;
    return column_batch_check(b, s, e);
}

void idl_conv_batch_to(const struct column_batch *b, struct idl_row_batch *out)
{
    size_t n = b->nrows;
    out->num_rows = (int32_t)n;
    for (int c = 0; c < b->ncols; c++) {
        const struct column_vec *v = &b->cols[c];
        struct idl_column_data *d = idl_row_batch_add_columns(out);
        d->type = (int32_t)v->type;
        if (v->nulls) {
            bool any = false;
            for (size_t i = 0; i < n && !any; i++)
                any = v->nulls[i];
            if (any) {
                d->nulls.len = (n + 7) / 8;
                d->nulls.data = xcalloc(d->nulls.len, 1);
                for (size_t i = 0; i < n; i++)
                    if (v->nulls[i])
                        d->nulls.data[i >> 3] |= (uint8_t)(1u << (i & 7));
            }
        }
        switch (v->type) {
        case COL_INT32:
            d->i32s = xmalloc(n * 4 + 1);
            memcpy(d->i32s, v->data, n * 4);
            d->i32s_len = n;
            break;
        case COL_INT64:
        case COL_TIMESTAMP:
            d->i64s = xmalloc(n * 8 + 1);
            memcpy(d->i64s, v->data, n * 8);
            d->i64s_len = n;
            break;
        case COL_DOUBLE:
            d->f64s = xmalloc(n * 8 + 1);
            memcpy(d->f64s, v->data, n * 8);
            d->f64s_len = n;
            break;
        case COL_BOOL:
            d->bools = xmalloc(n + 1);
            for (size_t i = 0; i < n; i++)
                d->bools[i] = ((const uint8_t *)v->data)[i] != 0;
            d->bools_len = n;
            break;
        default:
            d->str_lens = xmalloc(n * 4 + 1);
            for (size_t i = 0; i < n; i++)
                d->str_lens[i] = (int32_t)(v->offs[i + 1] - v->offs[i]);
            d->str_lens_len = n;
            d->str_data.len = v->offs[n] - v->offs[0];
            d->str_data.data = xmalloc(d->str_data.len + 1);
            memcpy(d->str_data.data, buf_cstr(&v->str) + v->offs[0], d->str_data.len);
            break;
        }
    }
}

static int conv_value(const struct idl_value *in, enum col_type t, const char *col, struct scan_value *out,
                      struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (in->is_null)
        return err_set(e, FLOE_EBADINPUT, "predicate on '%s': a NULL literal never matches; use IS NULL", col);
    switch (t) {
    case COL_DOUBLE: out->d = in->d; break;
    case COL_BOOL: out->i = in->b ? 1 : 0; break;
    case COL_STRING:
        out->s = in->s ? in->s : "";
        out->slen = strlen(out->s);
        break;
    default: out->i = in->i; break;
    }
    return 0;
}

int idl_conv_preds_from(const struct idl_predicate *in, size_t n, const struct schema *s,
                        struct idl_conv_preds *ret, struct err *e)
{
    memset(ret, 0, sizeof(*ret));
    if (n > 1024)
        return err_set(e, FLOE_EBADINPUT, "scan: %zu predicates, at most 1024", n);
    ret->preds = xcalloc(n + 1, sizeof(*ret->preds));
    ret->lists = xcalloc(n + 1, sizeof(*ret->lists));
    for (size_t i = 0; i < n; i++) {
        const struct idl_predicate *p = &in[i];
        struct predicate *q = &ret->preds[i];
        const char *name = p->column ? p->column : "";
        int col = schema_find(s, name);
        if (col < 0) {
            idl_conv_preds_free(ret);
            return err_set(e, FLOE_EBADINPUT, "predicate %zu: no column '%s'", i, name);
        }
        q->col = col;
        enum col_type t = s->cols[col].type;
        int r = 0;
        switch (p->op) {
        case IDL_PRED_OP_EQ: q->op = PRED_EQ; break;
        case IDL_PRED_OP_NE: q->op = PRED_NE; break;
        case IDL_PRED_OP_LT: q->op = PRED_LT; break;
        case IDL_PRED_OP_LE: q->op = PRED_LE; break;
        case IDL_PRED_OP_GT: q->op = PRED_GT; break;
        case IDL_PRED_OP_GE: q->op = PRED_GE; break;
        case IDL_PRED_OP_IS_NULL: q->op = PRED_IS_NULL; break;
        case IDL_PRED_OP_IS_NOT_NULL: q->op = PRED_IS_NOT_NULL; break;
        case IDL_PRED_OP_IN: q->op = PRED_IN; break;
        default:
            idl_conv_preds_free(ret);
            return err_set(e, FLOE_EBADINPUT, "predicate on '%s': unknown operator %d", name, (int)p->op);
        }
        if (q->op <= PRED_GE) {
            if (p->values_len != 1)
                r = err_set(e, FLOE_EBADINPUT, "predicate on '%s': %zu values, a comparison takes one", name,
                            p->values_len);
            else
                r = conv_value(&p->values[0], t, name, &q->v, e);
        } else if (q->op == PRED_IN) {
            ret->lists[i] = xcalloc(p->values_len + 1, sizeof(struct scan_value));
            for (size_t k = 0; k < p->values_len && r == 0; k++)
                r = conv_value(&p->values[k], t, name, &ret->lists[i][k], e);
            q->in = ret->lists[i];
            q->nin = p->values_len;
        } else if (p->values_len != 0) {
            r = err_set(e, FLOE_EBADINPUT, "predicate on '%s': IS [NOT] NULL takes no value", name);
        }
        ret->n = (int)i + 1;
        if (r < 0) {
            idl_conv_preds_free(ret);
            return r;
        }
    }
    ret->n = (int)n;
    return 0;
}

void idl_conv_preds_free(struct idl_conv_preds *p)
{
    if (!p)
        return;
    for (int i = 0; p->lists && i <= p->n; i++)
        free(p->lists[i]);
    free(p->lists);
    free(p->preds);
    memset(p, 0, sizeof(*p));
}

void idl_conv_rowset_info(const struct rowset *rs, struct idl_rowset_info *out)
{
    tidl_set_str(&out->rowset_id, rs->id);
    out->start_version = rs->start;
    out->end_version = rs->end;
    out->num_rows = (int64_t)rs->num_rows;
    out->num_segments = rs->nsegs;
    out->data_bytes = (int64_t)rs->data_size;
    out->newest_write_time_ms = rs->newest_write_ms;
    tidl_set_str(&out->resource, rs->resource_id ? rs->resource_id : "");
    for (int i = 0; i < rs->nsegs; i++)
        idl_rowset_info_add_segment_sizes(out, (int64_t)rs->segs[i].size);
}

void idl_conv_tablet_info(const struct tablet_info *ti, const struct version *v, bool with_rowsets,
                          struct idl_tablet_info *out)
{
    out->tablet_id = ti->tablet_id;
    out->replica_id = ti->replica_id;
    out->version = ti->max_version;
    out->state = ti->bad ? IDL_TABLET_STATE_BAD : IDL_TABLET_STATE_RUNNING;
    out->cooldown_replica_id = ti->cooldown_replica_id > 0 ? ti->cooldown_replica_id : 0;
    out->cooldown_term = ti->cooldown_term;
    tidl_set_str(&out->cooldown_meta_id, ti->cooldown_meta_id);
    out->cooldowned_version = ti->cooldowned_version;
    out->local_bytes = (int64_t)ti->local_size;
    out->remote_bytes = (int64_t)(ti->data_size - ti->local_size);
    out->num_rows = (int64_t)ti->num_rows;
    out->num_rowsets = (int32_t)ti->nrowsets;
    if (v && v->cd.storage_policy)
        tidl_set_str(&out->storage_policy, v->cd.storage_policy);
    if (v && with_rowsets)
        for (size_t i = 0; i < v->nrowsets; i++)
            idl_conv_rowset_info(v->rowsets[i], idl_tablet_info_add_rowsets(out));
}
