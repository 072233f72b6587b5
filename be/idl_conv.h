/*
 * idl_conv: conversions between the engine's types and the IDL messages
 * (schemas, row batches, predicates, tablet and rowset infos). Everything
 * coming from the wire is validated here: counts, types, lengths, names.
 */
#ifndef FLOE_BE_IDL_CONV_H
#define FLOE_BE_IDL_CONV_H

#include "column_batch.h"
#include "engine.h"
#include "scan.h"
#include "schema.h"
#include "types_idl.h"

struct err;

/* FLOE_EBADINPUT naming the column on a bad schema. */
int idl_conv_schema_from(const struct idl_tablet_schema *in, struct schema **ret, struct err *e);
/* The schema of the listed columns (proj NULL = all). out must be fresh (init'd). */
void idl_conv_schema_to(const struct schema *s, const int *proj, int nproj, struct idl_tablet_schema *out);

/*
 * A wire batch → engine batch (initialised here) for the given schema
 * (all columns, schema order). FLOE_EBADINPUT naming the column otherwise.
 */
int idl_conv_batch_from(const struct idl_row_batch *in, const struct schema *s, struct column_batch *ret,
                        struct err *e);
/* Appends the engine batch's columns to out (fresh). */
void idl_conv_batch_to(const struct column_batch *b, struct idl_row_batch *out);

/*
 * Wire predicates → scan predicates. Values (and IN lists) are allocated in
 * *ret_store, which the caller frees with idl_conv_preds_free after the scan;
 * string literals point into the request (valid while it lives).
 */
struct idl_conv_preds {
    struct predicate *preds;
    int n;
    struct scan_value **lists;
};
int idl_conv_preds_from(const struct idl_predicate *in, size_t n, const struct schema *s,
                        struct idl_conv_preds *ret, struct err *e);
void idl_conv_preds_free(struct idl_conv_preds *p);

/* Fills a tablet info (fresh) from the engine's view; rowsets listed when with_rowsets. */
void idl_conv_tablet_info(const struct tablet_info *ti, const struct version *v, bool with_rowsets,
                          struct idl_tablet_info *out);
void idl_conv_rowset_info(const struct rowset *rs, struct idl_rowset_info *out);

#endif
