/* Unit tests for the tidl codec and tidlc-generated structs (test.tidl). */
#include <math.h>

#include "backend_idl.h"
#include "frontend_idl.h"
#include "test_idl.h"
#include "testutil.h"

static void fill_all(struct tt_all *x)
{
    tt_all_init(x);
    x->b = false;
    x->i = INT32_MIN;
    x->l = INT64_MAX;
    x->d = -1.0 / 3.0;
    x->s = xstrdup("héllo wörld");
    x->bin.data = xmalloc(4);
    memcpy(x->bin.data, "\0\1\2\377", 4);
    x->bin.len = 4;
    x->color = TT_COLOR_BLUE;
    x->inner.a = 5;
    x->inner.s = xstrdup("in");
    x->has_oinner = true;
    x->oinner.a = -9;
    x->has_oi = true;
    x->oi = 0;
    x->os = xstrdup("");
    int32_t li[] = { 0, 1, -1, INT32_MAX, INT32_MIN };
    for (size_t k = 0; k < 5; k++)
        tt_all_add_li(x, li[k]);
    int64_t ll[] = { 0, INT64_MIN, INT64_MAX, 300 };
    for (size_t k = 0; k < 4; k++)
        tt_all_add_ll(x, ll[k]);
    tt_all_add_ld(x, 0.0);
    tt_all_add_ld(x, INFINITY);
    tt_all_add_ld(x, -2.75e300);
    tt_all_add_lb(x, true);
    tt_all_add_lb(x, false);
    tt_all_add_lb(x, true);
    tt_all_add_ls(x, "a");
    tt_all_add_ls(x, "");
    tt_all_add_ls(x, "ccc");
    tt_all_add_lbin(x, "xy", 2);
    tt_all_add_lbin(x, "", 0);
    for (int k = 0; k < 3; k++) {
        struct tt_inner *in = tt_all_add_linner(x);
        in->a = k * 100;
        in->s = xasprintf("n%d", k);
    }
    tt_all_add_lcolor(x, TT_COLOR_RED);
    tt_all_add_lcolor(x, 77);   /* unknown enum values travel unchanged */
    x->msl_len = 2;
    x->msl_keys = xcalloc(2, sizeof(char *));
    x->msl_vals = xcalloc(2, sizeof(int64_t));
    x->msl_keys[0] = xstrdup("k0");
    x->msl_vals[0] = -5;
    x->msl_keys[1] = xstrdup("k1");
    x->msl_vals[1] = 1ll << 40;
    x->mii_len = 1;
    x->mii_keys = xcalloc(1, sizeof(int32_t));
    x->mii_vals = xcalloc(1, sizeof(struct tt_inner));
    x->mii_keys[0] = 7;
    tt_inner_init(&x->mii_vals[0]);
    x->mii_vals[0].a = 70;
    x->mls_len = 1;
    x->mls_keys = xcalloc(1, sizeof(int64_t));
    x->mls_vals = xcalloc(1, sizeof(char *));
    x->mls_keys[0] = -1;
    x->mls_vals[0] = xstrdup("minus one");
    x->has_ob = true;
    x->ob = false;
    x->rs = xstrdup("req");
}

START_TEST(all_types_round_trip)
{
    struct tt_all a, b;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    fill_all(&a);
    tt_all_encode(&a, &out);
    int rc = tt_all_decode(out.data, out.len, NULL, &b, &e);
    ck_assert_msg(rc == 0, "%s", err_msg(&e));
    ck_assert(!b.b);
    ck_assert_int_eq(b.i, INT32_MIN);
    ck_assert(b.l == INT64_MAX);
    ck_assert(b.d == -1.0 / 3.0);
    ck_assert_str_eq(b.s, "héllo wörld");
    ck_assert_uint_eq(b.bin.len, 4);
    ck_assert_int_eq(memcmp(b.bin.data, "\0\1\2\377", 4), 0);
    ck_assert_int_eq(b.color, TT_COLOR_BLUE);
    ck_assert_int_eq(b.inner.a, 5);
    ck_assert_str_eq(b.inner.s, "in");
    ck_assert(b.has_oinner);
    ck_assert_int_eq(b.oinner.a, -9);
    ck_assert_str_eq(b.oinner.s, "inner");   /* default filled inside the nested struct */
    ck_assert(b.has_oi);
    ck_assert_int_eq(b.oi, 0);
    ck_assert_str_eq(b.os, "");
    ck_assert_uint_eq(b.li_len, 5);
    ck_assert_int_eq(b.li[3], INT32_MAX);
    ck_assert_int_eq(b.li[4], INT32_MIN);
    ck_assert_uint_eq(b.ll_len, 4);
    ck_assert(b.ll[1] == INT64_MIN && b.ll[2] == INT64_MAX && b.ll[3] == 300);
    ck_assert_uint_eq(b.ld_len, 3);
    ck_assert(isinf(b.ld[1]) && b.ld[2] == -2.75e300);
    ck_assert_uint_eq(b.lb_len, 3);
    ck_assert(b.lb[0] && !b.lb[1] && b.lb[2]);
    ck_assert_uint_eq(b.ls_len, 3);
    ck_assert_str_eq(b.ls[1], "");
    ck_assert_str_eq(b.ls[2], "ccc");
    ck_assert_uint_eq(b.lbin_len, 2);
    ck_assert_uint_eq(b.lbin[0].len, 2);
    ck_assert_int_eq(memcmp(b.lbin[0].data, "xy", 2), 0);
    ck_assert_uint_eq(b.lbin[1].len, 0);
    ck_assert_uint_eq(b.linner_len, 3);
    ck_assert_int_eq(b.linner[2].a, 200);
    ck_assert_str_eq(b.linner[2].s, "n2");
    ck_assert_uint_eq(b.lcolor_len, 2);
    ck_assert_int_eq(b.lcolor[1], 77);
    ck_assert_uint_eq(b.msl_len, 2);
    ck_assert_str_eq(b.msl_keys[1], "k1");
    ck_assert(b.msl_vals[1] == 1ll << 40);
    ck_assert_uint_eq(b.mii_len, 1);
    ck_assert_int_eq(b.mii_keys[0], 7);
    ck_assert_int_eq(b.mii_vals[0].a, 70);
    ck_assert_str_eq(b.mii_vals[0].s, "inner");
    ck_assert(b.mls_keys[0] == -1);
    ck_assert_str_eq(b.mls_vals[0], "minus one");
    ck_assert(b.has_ob && !b.ob);
    ck_assert_str_eq(b.rs, "req");

    /* re-encoding the decoded value gives the same bytes */
    struct buf again = BUF_INIT;
    tt_all_encode(&b, &again);
    ck_assert_uint_eq(again.len, out.len);
    ck_assert_int_eq(memcmp(again.data, out.data, out.len), 0);

    tt_all_release(&a);
    tt_all_release(&b);
    tt_all_release(&b);   /* release twice is harmless */
    tt_all_release(NULL);
    buf_release(&out);
    buf_release(&again);
}
END_TEST

START_TEST(defaults_for_missing_fields)
{
    struct tt_all a, b;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    tt_all_init(&a);
    ck_assert(a.b && a.i == -7 && a.l == 1234567890123 && a.d == 2.5);
    ck_assert_int_eq(a.color, TT_COLOR_GREEN);
    a.rs = xstrdup("only");
    tt_all_encode(&a, &out);
    ck_assert_int_eq(tt_all_decode(out.data, out.len, NULL, &b, &e), 0);
    ck_assert_str_eq(b.s, "dflt");
    ck_assert_str_eq(b.inner.s, "inner");
    ck_assert(!b.has_oinner && !b.has_oi && !b.has_ob);
    ck_assert_ptr_null(b.os);
    ck_assert_uint_eq(b.li_len, 0);
    ck_assert_uint_eq(b.msl_len, 0);
    ck_assert(b.b && b.i == -7 && b.d == 2.5);
    tt_all_release(&a);
    tt_all_release(&b);

    /* a message carrying nothing but the required field: defaults everywhere */
    buf_reset(&out);
    tidl_put_field(&out, 24, TIDL_W_BYTES);
    tidl_put_string(&out, "r");
    tidl_put_stop(&out);
    ck_assert_int_eq(tt_all_decode(out.data, out.len, NULL, &b, &e), 0);
    ck_assert(b.b && b.i == -7 && b.l == 1234567890123);
    ck_assert_int_eq(b.color, TT_COLOR_GREEN);
    ck_assert_str_eq(b.s, "dflt");
    ck_assert_int_eq(b.inner.a, 0);
    ck_assert_str_eq(b.inner.s, "inner");
    tt_all_release(&b);
    buf_release(&out);
}
END_TEST

START_TEST(old_reader_new_writer)
{
    struct tt_record_v2 w;
    struct tt_record_v1 r;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    tt_record_v2_init(&w);
    w.id = 99;
    w.name = xstrdup("new");
    w.score = 7;
    tt_record_v2_add_tags(&w, "t1");
    tt_record_v2_add_tags(&w, "t2");
    w.extra.a = 3;
    w.ratio = 9.5;
    tt_record_v2_encode(&w, &out);
    ck_assert_int_eq(tt_record_v1_decode(out.data, out.len, NULL, &r, &e), 0);
    ck_assert(r.id == 99);
    ck_assert_str_eq(r.name, "new");
    tt_record_v1_release(&r);
    tt_record_v2_release(&w);
    buf_release(&out);
}
END_TEST

START_TEST(new_reader_old_writer)
{
    struct tt_record_v1 w;
    struct tt_record_v2 r;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    tt_record_v1_init(&w);
    w.id = -4;
    tt_record_v1_encode(&w, &out);   /* name NULL: the default is sent */
    ck_assert_int_eq(tt_record_v2_decode(out.data, out.len, NULL, &r, &e), 0);
    ck_assert(r.id == -4);
    ck_assert_str_eq(r.name, "anon");
    ck_assert_int_eq(r.score, 42);
    ck_assert_uint_eq(r.tags_len, 0);
    ck_assert_int_eq(r.extra.a, 0);
    ck_assert_str_eq(r.extra.s, "inner");
    ck_assert(r.ratio == 0.5);
    tt_record_v2_release(&r);
    tt_record_v1_release(&w);
    buf_release(&out);
}
END_TEST

START_TEST(required_field_missing)
{
    struct tt_record_v1 r;
    struct err e = { 0 };
    struct buf out = BUF_INIT;
    tidl_put_field(&out, 2, TIDL_W_BYTES);
    tidl_put_string(&out, "x");
    tidl_put_stop(&out);
    ck_assert_int_eq(tt_record_v1_decode(out.data, out.len, NULL, &r, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "required field RecordV1.id is missing"), "%s", e.msg);
    ck_assert_ptr_null(r.name);   /* left released */
    buf_release(&out);
}
END_TEST

static int decode_v1(const struct buf *b, const struct tidl_limits *lim, struct err *e)
{
    struct tt_record_v1 r;
    int rc = tt_record_v1_decode(b->data, b->len, lim, &r, e);
    tt_record_v1_release(&r);
    return rc;
}

START_TEST(limits)
{
    struct err e = { 0 };
    struct buf b = BUF_INIT;
    struct tidl_limits lim = tidl_default_limits;

    /* message size */
    struct tt_record_v2 w;
    tt_record_v2_init(&w);
    w.id = 1;
    for (int k = 0; k < 100; k++)
        tt_record_v2_add_tags(&w, "0123456789");
    tt_record_v2_encode(&w, &b);
    lim.max_message = b.len - 1;
    ck_assert_int_eq(decode_v1(&b, &lim, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "exceeds limit"), "%s", e.msg);
    lim = tidl_default_limits;
    ck_assert_int_eq(decode_v1(&b, &lim, &e), 0);

    /* list length, also when the list is an unknown field being skipped */
    lim.max_list = 99;
    ck_assert_int_eq(decode_v1(&b, &lim, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "list of 100 elements exceeds limit 99"), "%s", e.msg);
    struct tt_record_v2 r2;
    ck_assert_int_eq(tt_record_v2_decode(b.data, b.len, &lim, &r2, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "RecordV2.tags"), "%s", e.msg);
    lim = tidl_default_limits;

    /* string length */
    lim.max_string = 9;
    ck_assert_int_eq(tt_record_v2_decode(b.data, b.len, &lim, &r2, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "string of 10 bytes exceeds limit 9"), "%s", e.msg);
    lim = tidl_default_limits;

    /* allocation budget */
    lim.max_alloc = 500;
    ck_assert_int_eq(tt_record_v2_decode(b.data, b.len, &lim, &r2, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "memory"), "%s", e.msg);
    tt_record_v2_release(&w);

    /* nesting depth: a chain of 100 trees */
    struct tt_tree t;
    tt_tree_init(&t);
    struct tt_tree *cur = &t;
    for (int k = 0; k < 100; k++) {
        cur = tt_tree_add_kids(cur);
        cur->v = k;
    }
    buf_reset(&b);
    tt_tree_encode(&t, &b);
    struct tt_tree back;
    ck_assert_int_eq(tt_tree_decode(b.data, b.len, NULL, &back, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "nesting deeper than limit 64"), "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "decoding Tree: Tree.kids: "), "%s", e.msg);
    lim = tidl_default_limits;
    lim.max_depth = 300;
    ck_assert_int_eq(tt_tree_decode(b.data, b.len, &lim, &back, &e), 0);
    int depth = 0;
    for (cur = &back; cur->kids_len; cur = &cur->kids[0])
        depth++;
    ck_assert_int_eq(depth, 100);
    tt_tree_release(&back);
    tt_tree_release(&t);

    /* deep nesting inside an unknown field is bounded too */
    buf_reset(&b);
    tidl_put_field(&b, 1, TIDL_W_VARINT);
    tidl_put_svarint(&b, 1);
    for (int k = 0; k < 1000; k++)
        tidl_put_field(&b, 9, TIDL_W_STRUCT);
    for (int k = 0; k < 1001; k++)
        tidl_put_stop(&b);
    ck_assert_int_eq(decode_v1(&b, NULL, &e), FLOE_ELIMIT);
    buf_release(&b);
}
END_TEST

/* Decodes bytes as RecordV1 and returns the code; e gets the message. */
static int dec_bytes(const char *bytes, size_t n, struct err *e)
{
    struct tt_record_v1 r;
    err_clear(e);
    int rc = tt_record_v1_decode(bytes, n, NULL, &r, e);
    tt_record_v1_release(&r);
    return rc;
}

START_TEST(malformed_input)
{
    struct err e = { 0 };
    /* empty input */
    ck_assert_int_eq(dec_bytes("", 0, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "truncated"), "%s", e.msg);
    /* bad wire type 9 on field 1 */
    ck_assert_int_eq(dec_bytes("\x19\x02\x00", 3, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "bad wire type 9"), "%s", e.msg);
    /* known field with the wrong wire type */
    ck_assert_int_eq(dec_bytes("\x15\x01x\x00", 4, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "RecordV1.id") && strstr(e.msg, "wire type BYTES, expected VARINT"),
                  "%s", e.msg);
    /* field id 0 with a type */
    ck_assert_int_eq(dec_bytes("\x03\x02\x00", 3, &e), FLOE_EPROTO);
    /* huge string length */
    ck_assert_int_eq(dec_bytes("\x13\x02\x25\xff\xff\xff\xff\xff\x1f", 9, &e), FLOE_ELIMIT);
    /* string length past the end */
    ck_assert_int_eq(dec_bytes("\x13\x02\x25\x40xyz\x00", 8, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "truncated"), "%s", e.msg);
    /* huge list count in an unknown field: refused before any allocation */
    ck_assert_int_eq(dec_bytes("\x13\x02\x36\xff\xff\xff\x7f\x03\x00", 9, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "exceeds limit"), "%s", e.msg);
    /* plausible count, too few bytes */
    ck_assert_int_eq(dec_bytes("\x13\x02\x36\xe8\x07\x03\x00\x00", 8, &e), FLOE_EPROTO);
    /* varint longer than 10 bytes */
    ck_assert_int_eq(dec_bytes("\x13\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00", 13, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "varint"), "%s", e.msg);
    /* trailing bytes */
    ck_assert_int_eq(dec_bytes("\x13\x02\x00\x00", 4, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "trailing"), "%s", e.msg);
    /* string with a NUL */
    ck_assert_int_eq(dec_bytes("\x13\x02\x25\x02x\0\x00", 7, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "NUL"), "%s", e.msg);
    /* bad list element type and bad bool byte */
    ck_assert_int_eq(dec_bytes("\x13\x02\x36\x01\x0c\x00\x00", 7, &e), FLOE_EPROTO);
    ck_assert_int_eq(dec_bytes("\x13\x02\x36\x01\x01\x05\x00", 7, &e), FLOE_EPROTO);
    /* a valid message for comparison */
    ck_assert_int_eq(dec_bytes("\x13\x02\x00", 3, &e), 0);

    /* i32 out of range */
    struct tt_inner in;
    ck_assert_int_eq(tt_inner_decode("\x13\x80\x80\x80\x80\x10\x00", 7, NULL, &in, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "i32 range"), "%s", e.msg);
}
END_TEST

START_TEST(truncation_and_mutation_never_crash)
{
    struct tt_all a, b;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    fill_all(&a);
    tt_all_encode(&a, &out);
    tt_all_release(&a);
    for (size_t n = 0; n < out.len; n++) {
        int rc = tt_all_decode(out.data, n, NULL, &b, &e);
        ck_assert_msg(rc == FLOE_EPROTO || rc == FLOE_ELIMIT, "prefix %zu decoded: %d", n, rc);
        ck_assert(e.msg[0] != '\0');
        tt_all_release(&b);
    }
    /* deterministic byte mutations; any outcome but a crash or leak is fine */
    unsigned seed = 12345;
    char *m = xmalloc(out.len);
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, out.data, out.len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            m[(seed >> 8) % out.len] = (char)(seed >> 20);
        }
        if (tt_all_decode(m, out.len, NULL, &b, &e) == 0)
            ok++;
        tt_all_release(&b);
    }
    ck_assert_int_lt(ok, 20000);
    free(m);
    buf_release(&out);
}
END_TEST

START_TEST(enum_names)
{
    int32_t v = 0;
    ck_assert_str_eq(tt_color_name(TT_COLOR_BLUE), "BLUE");
    ck_assert_ptr_null(tt_color_name(99));
    ck_assert_int_eq(tt_color_from_name("green", &v), 0);
    ck_assert_int_eq(v, TT_COLOR_GREEN);
    ck_assert_int_eq(tt_color_from_name("purple", &v), FLOE_ENOTFOUND);
    ck_assert_str_eq(tt_test_service_method_name(1), "TestService.echo");
    ck_assert_ptr_null(tt_test_service_method_name(9));
}
END_TEST

/* The real interfaces: a write with a typed batch, a tablet report. */
START_TEST(real_interfaces_round_trip)
{
    struct idl_write_rowset_req w, w2;
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    idl_write_rowset_req_init(&w);
    w.txn_id = 12;
    w.tablet_id = 34;
    struct idl_row_batch *b = idl_write_rowset_req_add_batches(&w);
    b->num_rows = 2;
    struct idl_column_data *c = idl_row_batch_add_columns(b);
    c->type = IDL_COLUMN_TYPE_STRING;
    c->str_data.data = (uint8_t *)xstrdup("abxyz");
    c->str_data.len = 5;
    idl_column_data_add_str_lens(c, 2);
    idl_column_data_add_str_lens(c, 3);
    c = idl_row_batch_add_columns(b);
    c->type = IDL_COLUMN_TYPE_TIMESTAMP;
    c->nulls.data = xmalloc(1);
    c->nulls.data[0] = 0x2;
    c->nulls.len = 1;
    idl_column_data_add_i64s(c, INT64_C(1763769600000000));
    idl_column_data_add_i64s(c, 0);
    idl_write_rowset_req_encode(&w, &out);
    ck_assert_int_eq(idl_write_rowset_req_decode(out.data, out.len, NULL, &w2, &e), 0);
    ck_assert(w2.txn_id == 12 && w2.tablet_id == 34);
    ck_assert_uint_eq(w2.batches_len, 1);
    ck_assert_int_eq(w2.batches[0].num_rows, 2);
    ck_assert_uint_eq(w2.batches[0].columns_len, 2);
    ck_assert_int_eq(w2.batches[0].columns[0].str_lens[1], 3);
    ck_assert_int_eq(memcmp(w2.batches[0].columns[0].str_data.data, "abxyz", 5), 0);
    ck_assert_int_eq(w2.batches[0].columns[1].nulls.data[0], 2);
    ck_assert(w2.batches[0].columns[1].i64s[0] == INT64_C(1763769600000000));
    idl_write_rowset_req_release(&w);
    idl_write_rowset_req_release(&w2);

    struct idl_tablet_report_req r, r2;
    buf_reset(&out);
    idl_tablet_report_req_init(&r);
    r.backend_id = 3;
    struct idl_tablet_info *t = idl_tablet_report_req_add_tablets(&r);
    ck_assert(t->cooldowned_version == -1);   /* default */
    t->tablet_id = 1001;
    t->cooldown_replica_id = 7;
    t->cooldown_term = 4;
    t->cooldown_meta_id = xstrdup("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    t->cooldowned_version = 9;
    t->delete_id = 55;
    t->local_bytes = 1;
    t->remote_bytes = 1ll << 33;
    idl_tablet_report_req_encode(&r, &out);
    ck_assert_int_eq(idl_tablet_report_req_decode(out.data, out.len, NULL, &r2, &e), 0);
    ck_assert(r2.full);
    ck_assert_uint_eq(r2.tablets_len, 1);
    t = &r2.tablets[0];
    ck_assert(t->tablet_id == 1001 && t->cooldown_replica_id == 7 && t->cooldown_term == 4);
    ck_assert_str_eq(t->cooldown_meta_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    ck_assert(t->cooldowned_version == 9 && t->delete_id == 55 && t->remote_bytes == 1ll << 33);
    ck_assert_int_eq(t->state, IDL_TABLET_STATE_RUNNING);
    ck_assert_str_eq(t->storage_policy, "");
    idl_tablet_report_req_release(&r);
    idl_tablet_report_req_release(&r2);
    ck_assert_str_eq(idl_backend_service_method_name(IDL_BACKEND_SERVICE_SCAN_OPEN),
                     "BackendService.scan_open");
    ck_assert_str_eq(idl_frontend_service_method_name(IDL_FRONTEND_SERVICE_TABLET_REPORT),
                     "FrontendService.tablet_report");
    buf_release(&out);
}
END_TEST

/* The master-epoch fields of the fencing protocol are optional: a request
 * without them (an FE before fencing) decodes with has_* false, and one
 * with them round-trips. */
START_TEST(master_epoch_fields)
{
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    struct idl_cooldown_delete_req a, b;
    idl_cooldown_delete_req_init(&a);
    a.tablet_id = 7;
    a.delete_id = 9;
    idl_cooldown_delete_req_encode(&a, &out);
    ck_assert_int_eq(idl_cooldown_delete_req_decode(out.data, out.len, NULL, &b, &e), 0);
    ck_assert(!b.has_fe_epoch);
    ck_assert_int_eq(b.delete_id, 9);
    idl_cooldown_delete_req_release(&b);
    a.has_fe_epoch = true;
    a.fe_epoch = 42;
    buf_reset(&out);
    idl_cooldown_delete_req_encode(&a, &out);
    ck_assert_int_eq(idl_cooldown_delete_req_decode(out.data, out.len, NULL, &b, &e), 0);
    ck_assert(b.has_fe_epoch);
    ck_assert_int_eq(b.fe_epoch, 42);
    idl_cooldown_delete_req_release(&b);
    idl_cooldown_delete_req_release(&a);

    struct idl_ping_req p, q;
    idl_ping_req_init(&p);
    p.fe_epoch = 1733390000000;   /* the old meaning: a start time, never compared */
    buf_reset(&out);
    idl_ping_req_encode(&p, &out);
    ck_assert_int_eq(idl_ping_req_decode(out.data, out.len, NULL, &q, &e), 0);
    ck_assert(!q.has_master_epoch);
    ck_assert_ptr_null(q.fe_address);
    idl_ping_req_release(&q);
    p.has_master_epoch = true;
    p.master_epoch = 3;
    tidl_set_str(&p.fe_address, "10.0.0.5:9020");
    buf_reset(&out);
    idl_ping_req_encode(&p, &out);
    ck_assert_int_eq(idl_ping_req_decode(out.data, out.len, NULL, &q, &e), 0);
    ck_assert(q.has_master_epoch);
    ck_assert_int_eq(q.master_epoch, 3);
    ck_assert_str_eq(q.fe_address, "10.0.0.5:9020");
    idl_ping_req_release(&q);
    idl_ping_req_release(&p);

    struct idl_drop_tablet_req d, d2;
    idl_drop_tablet_req_init(&d);
    d.tablet_id = 5;
    d.delete_remote = true;
    d.has_fe_epoch = true;
    d.fe_epoch = 2;
    d.has_resource = true;
    tidl_set_str(&d.resource.name, "store");
    d.resource.type = IDL_RESOURCE_TYPE_LOCAL;
    tidl_set_str(&d.resource.root_path, "/shared");
    buf_reset(&out);
    idl_drop_tablet_req_encode(&d, &out);
    ck_assert_int_eq(idl_drop_tablet_req_decode(out.data, out.len, NULL, &d2, &e), 0);
    ck_assert(d2.delete_remote && d2.has_fe_epoch && d2.has_resource);
    ck_assert_str_eq(d2.resource.name, "store");
    ck_assert_str_eq(d2.resource.root_path, "/shared");
    idl_drop_tablet_req_release(&d2);
    idl_drop_tablet_req_release(&d);
    buf_release(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idl_codec");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, all_types_round_trip);
    tcase_add_test(tc, defaults_for_missing_fields);
    tcase_add_test(tc, old_reader_new_writer);
    tcase_add_test(tc, new_reader_old_writer);
    tcase_add_test(tc, required_field_missing);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, malformed_input);
    tcase_add_test(tc, truncation_and_mutation_never_crash);
    tcase_add_test(tc, enum_names);
    tcase_add_test(tc, real_interfaces_round_trip);
    tcase_add_test(tc, master_epoch_fields);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
