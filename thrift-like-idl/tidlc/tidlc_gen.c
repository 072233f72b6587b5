/*
 * tidlc_gen: writes the C header and source for one parsed .tidl file:
 * enums (+ name tables), structs with _init/_release/_encode/_decode/_write/
 * _read/_add_<list>, and for services the client stubs, the handler table
 * and the function that registers it with an rpc_server.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tidlc.h"

static FILE *out;

static void P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void P(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}

static const char *upper_name(const char *s)
{
    char *o = ar_strdup(s);
    for (char *p = o; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return o;
}

static const char *ctype(const struct type *t)
{
    switch (t->k) {
    case K_BOOL: return "bool";
    case K_I32: return "int32_t";
    case K_I64: return "int64_t";
    case K_DOUBLE: return "double";
    case K_STRING: return "char *";
    case K_BINARY: return "struct tidl_bin";
    case K_STRUCT: return ar_printf("struct %s", t->def->cname);
    case K_ENUM: return "int32_t";
    default: return "?";
    }
}

/* "int32_t name", "char *name", "char **name" (ptr) */
static const char *decl(const struct type *t, const char *name, bool ptr)
{
    const char *c = ctype(t);
    bool star = c[strlen(c) - 1] == '*';
    return ar_printf("%s%s%s%s", c, star ? "" : " ", ptr ? "*" : "", name);
}

static const char *wire(const struct type *t)
{
    switch (t->k) {
    case K_BOOL: return "TIDL_W_TRUE";
    case K_I32:
    case K_I64:
    case K_ENUM: return "TIDL_W_VARINT";
    case K_DOUBLE: return "TIDL_W_DOUBLE";
    case K_STRING:
    case K_BINARY: return "TIDL_W_BYTES";
    case K_LIST: return "TIDL_W_LIST";
    case K_MAP: return "TIDL_W_MAP";
    case K_STRUCT: return "TIDL_W_STRUCT";
    default: return "?";
    }
}

static const char *type_text(const struct type *t)
{
    switch (t->k) {
    case K_LIST: return ar_printf("list<%s>", type_text(t->elem));
    case K_MAP: return ar_printf("map<%s,%s>", type_text(t->key), type_text(t->val));
    case K_STRUCT:
    case K_ENUM: return t->def->name;
    case K_BOOL: return "bool";
    case K_I32: return "i32";
    case K_I64: return "i64";
    case K_DOUBLE: return "double";
    case K_STRING: return "string";
    default: return "binary";
    }
}

static const char *c_string(const char *s)
{
    size_t n = strlen(s);
    char *o = ar_alloc(4 * n + 3);
    size_t k = 0;
    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            o[k++] = '\\';
            o[k++] = (char)c;
        } else if (c == '\n') {
            o[k++] = '\\';
            o[k++] = 'n';
        } else if (c == '\t') {
            o[k++] = '\\';
            o[k++] = 't';
        } else if (c < 32 || c == 127) {
            k += (size_t)sprintf(o + k, "\\%03o", c);
        } else {
            o[k++] = (char)c;
        }
    }
    o[k++] = '"';
    return o;
}

static const char *enum_const(const struct def *e, const char *value)
{
    const char *v = strrchr(value, '.');
    return ar_printf("%s_%s", e->upper, v ? v + 1 : value);
}

static const char *default_expr(const struct field *f)
{
    const struct constval *c = f->defval;
    switch (f->t->k) {
    case K_BOOL: return c->s;
    case K_I32: return ar_printf("%lld", c->i);
    case K_I64: return c->i == INT64_MIN ? "INT64_MIN" : ar_printf("INT64_C(%lld)", c->i);
    case K_DOUBLE: return c->k == CV_INT ? ar_printf("%lld.0", c->i) : ar_printf("%.17g", c->d);
    case K_ENUM: return enum_const(f->t->def, c->s);
    case K_STRING: return c_string(c->s);
    default: return "0";
    }
}

/* ---------------- header ---------------- */

static void gen_enum_h(const struct def *d)
{
    P("/* %s */\nenum %s {\n", d->name, d->cname);
    for (int i = 0; i < d->values.n; i++) {
        struct enumval *v = d->values.v[i];
        P("    %s_%s = %lld,\n", d->upper, v->name, v->v);
    }
    P("};\n");
    P("/* \"%s\" for a known value, NULL otherwise. */\n", d->values.n ? ((struct enumval *)d->values.v[0])->name : "");
    P("const char *%s_name(int32_t v);\n", d->cname);
    P("/* 0 and the value for a name (case-insensitive), FLOE_ENOTFOUND otherwise. */\n");
    P("int %s_from_name(const char *name, int32_t *ret);\n\n", d->cname);
}

/* The signature of a list field's x_add_<field> helper, then end (";" or a body opening). */
static void gen_add_sig(const struct def *d, const struct field *f, const char *end)
{
    const char *n = d->cname;
    const struct type *et = f->t->elem;
    if (et->k == K_STRUCT)
        P("struct %s *%s_add_%s(struct %s *x)%s", et->def->cname, n, f->name, n, end);
    else if (et->k == K_STRING)
        P("void %s_add_%s(struct %s *x, const char *v)%s", n, f->name, n, end);
    else if (et->k == K_BINARY)
        P("void %s_add_%s(struct %s *x, const void *data, size_t len)%s", n, f->name, n, end);
    else
        P("void %s_add_%s(struct %s *x, %s)%s", n, f->name, n, decl(et, "v", false), end);
}

static void gen_struct_h(const struct def *d)
{
    P("/* %s */\nstruct %s {\n", d->name, d->cname);
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        const char *rq = f->req == REQ_REQUIRED ? "required " : f->req == REQ_OPTIONAL ? "optional " : "";
        const char *comment = ar_printf("/* %d: %s%s%s%s */", f->id, rq, type_text(f->t),
                                        f->defval ? " = " : "",
                                        f->defval ? (f->t->k == K_STRING ? "\"...\"" : default_expr(f)) : "");
        switch (f->t->k) {
        case K_LIST:
            P("    %s;    %s\n    size_t %s_len;\n", decl(f->t->elem, f->name, true), comment, f->name);
            break;
        case K_MAP:
            P("    %s;    %s\n", decl(f->t->key, ar_printf("%s_keys", f->name), true), comment);
            P("    %s;\n    size_t %s_len;\n", decl(f->t->val, ar_printf("%s_vals", f->name), true), f->name);
            break;
        default:
            if (f->req == REQ_OPTIONAL && f->t->k != K_STRING && f->t->k != K_BINARY)
                P("    bool has_%s;\n", f->name);
            P("    %s;    %s\n", decl(f->t, f->name, false), comment);
        }
    }
    if (d->fields.n == 0)
        P("    char unused_;\n");
    P("};\n");
    const char *n = d->cname;
    P("void %s_init(struct %s *x);\n", n, n);
    P("void %s_release(struct %s *x);\n", n, n);
    P("void %s_encode(const struct %s *x, struct buf *out);\n", n, n);
    P("int %s_decode(const void *data, size_t len, const struct tidl_limits *lim, struct %s *ret, struct err *e);\n", n, n);
    P("void %s_write(struct buf *out, const struct %s *x);\n", n, n);
    P("int %s_read(struct tidl_reader *r, struct %s *x);\n", n, n);
    P("/* Replaces NULL non-optional strings (recursively) with their defaults, as decoding does. */\n");
    P("void %s_defaults(struct %s *x);\n", n, n);
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->t->k == K_LIST)
            gen_add_sig(d, f, ";\n");
    }
    P("\n");
}

static void gen_service_h(const struct def *d)
{
    const char *n = d->cname;
    P("/* service %s */\nenum {\n", d->name);
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        P("    %s_%s = %d,\n", d->upper, upper_name(m->name), m->id);
    }
    P("};\n");
    P("/* \"%s.method\" for a method id, NULL for an unknown one. */\n", d->name);
    P("const char *%s_method_name(uint32_t id);\n", n);
    P("/* Client stubs: ret is initialised here; on 0 the caller releases it. */\n");
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        P("int %s_%s(struct rpc_client *c, const struct %s *req, struct %s *ret, struct err *e);\n",
          n, m->name, m->arg->def->cname, m->ret->def->cname);
    }
    P("/* Server side: fill the methods you implement (NULL ones answer\n"
      " * FLOE_EUNSUPPORTED). reply is initialised before the call and encoded\n"
      " * when the handler returns 0; a negative return sends code + e's message. */\n");
    P("struct %s_handlers {\n    void *ctx;\n", n);
    P("    const struct tidl_limits *limits;   /* request decoding; NULL = tidl_default_limits */\n");
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        P("    int (*%s)(void *ctx, const struct %s *req, struct %s *reply, struct err *e);\n",
          m->name, m->arg->def->cname, m->ret->def->cname);
    }
    P("};\n");
    P("/* For fuzzing and tools: decodes the request (reply) of method id and\n"
      " * re-encodes it into out. FLOE_EUNSUPPORTED for an unknown id. */\n");
    P("int %s_check_request(uint32_t id, const void *data, size_t len, const struct tidl_limits *lim, struct buf *out, struct err *e);\n", n);
    P("int %s_check_reply(uint32_t id, const void *data, size_t len, const struct tidl_limits *lim, struct buf *out, struct err *e);\n", n);
    P("/* Registers every non-NULL handler; h is borrowed and must outlive s. */\n");
    P("int %s_register(struct rpc_server *s, const struct %s_handlers *h, struct err *e);\n\n", n, n);
}

/* ---------------- source ---------------- */

static void release_elem(const struct type *t, const char *lv)
{
    switch (t->k) {
    case K_STRING: P("free(%s);", lv); break;
    case K_BINARY: P("tidl_bin_release(&%s);", lv); break;
    case K_STRUCT: P("%s_release(&%s);", t->def->cname, lv); break;
    default: break;
    }
}

static bool needs_release(const struct type *t)
{
    return t->k == K_STRING || t->k == K_BINARY || t->k == K_STRUCT;
}

static void release_field(const struct field *f, const char *ind)
{
    const char *v = ar_printf("x->%s", f->name);
    switch (f->t->k) {
    case K_STRING:
        P("%sfree(%s);\n%s%s = NULL;\n", ind, v, ind, v);
        break;
    case K_BINARY:
        P("%stidl_bin_release(&%s);\n", ind, v);
        break;
    case K_STRUCT:
        P("%s%s_release(&%s);\n", ind, f->t->def->cname, v);
        break;
    case K_LIST:
        if (needs_release(f->t->elem)) {
            P("%sfor (size_t i = 0; i < %s_len; i++)\n%s    ", ind, v, ind);
            release_elem(f->t->elem, ar_printf("%s[i]", v));
            P("\n");
        }
        P("%sfree(%s);\n%s%s = NULL;\n%s%s_len = 0;\n", ind, v, ind, v, ind, v);
        break;
    case K_MAP:
        if (needs_release(f->t->key) || needs_release(f->t->val)) {
            P("%sfor (size_t i = 0; i < %s_len; i++) {\n", ind, v);
            if (needs_release(f->t->key)) {
                P("%s    ", ind);
                release_elem(f->t->key, ar_printf("%s_keys[i]", v));
                P("\n");
            }
            if (needs_release(f->t->val)) {
                P("%s    ", ind);
                release_elem(f->t->val, ar_printf("%s_vals[i]", v));
                P("\n");
            }
            P("%s}\n", ind);
        }
        P("%sfree(%s_keys);\n%sfree(%s_vals);\n%s%s_keys = NULL;\n%s%s_vals = NULL;\n%s%s_len = 0;\n",
          ind, v, ind, v, ind, v, ind, v, ind, v);
        break;
    default:
        break;
    }
}

static void write_elem(const struct type *t, const char *v)
{
    switch (t->k) {
    case K_BOOL: P("buf_putc(b, %s ? 1 : 0);", v); break;
    case K_I32:
    case K_I64:
    case K_ENUM: P("tidl_put_svarint(b, %s);", v); break;
    case K_DOUBLE: P("tidl_put_double(b, %s);", v); break;
    case K_STRING: P("tidl_put_string(b, %s);", v); break;
    case K_BINARY: P("tidl_put_bytes(b, %s.data, %s.len);", v, v); break;
    case K_STRUCT: P("%s_write(b, &%s);", t->def->cname, v); break;
    default: break;
    }
}

/* Scalar element types written and read in bulk: "i64" etc., or NULL. */
static const char *bulk_name(const struct type *t)
{
    switch (t->k) {
    case K_I32:
    case K_ENUM: return "i32";
    case K_I64: return "i64";
    case K_DOUBLE: return "double";
    case K_BOOL: return "bool";
    default: return NULL;
    }
}

static void write_field(const struct field *f)
{
    const char *v = ar_printf("x->%s", f->name);
    bool opt = f->req == REQ_OPTIONAL, req = f->req == REQ_REQUIRED;
    int id = f->id;
    switch (f->t->k) {
    case K_BOOL:
        P("    %stidl_put_field(b, %d, %s ? TIDL_W_TRUE : TIDL_W_FALSE);\n",
          opt ? ar_printf("if (x->has_%s)\n        ", f->name) : "", id, v);
        break;
    case K_I32:
    case K_I64:
    case K_ENUM:
    case K_DOUBLE:
    case K_STRUCT:
        if (opt)
            P("    if (x->has_%s) {\n", f->name);
        else
            P("    {\n");
        P("        tidl_put_field(b, %d, %s);\n        ", id, wire(f->t));
        write_elem(f->t, v);
        P("\n    }\n");
        break;
    case K_STRING:
        if (opt) {
            P("    if (%s) {\n        tidl_put_field(b, %d, TIDL_W_BYTES);\n        tidl_put_string(b, %s);\n    }\n", v, id, v);
        } else {
            P("    tidl_put_field(b, %d, TIDL_W_BYTES);\n", id);
            P("    tidl_put_string(b, %s ? %s : %s);\n", v, v, f->defval ? default_expr(f) : "\"\"");
        }
        break;
    case K_BINARY:
        if (opt)
            P("    if (%s.len) {\n", v);
        else
            P("    {\n");
        P("        tidl_put_field(b, %d, TIDL_W_BYTES);\n        tidl_put_bytes(b, %s.data, %s.len);\n    }\n", id, v, v);
        break;
    case K_LIST:
        if (req)
            P("    {\n");
        else
            P("    if (%s_len) {\n", v);
        P("        tidl_put_field(b, %d, TIDL_W_LIST);\n", id);
        P("        tidl_put_list_header(b, %s_len, %s);\n", v, wire(f->t->elem));
        if (bulk_name(f->t->elem)) {
            P("        tidl_put_%s_elems(b, %s, %s_len);\n    }\n", bulk_name(f->t->elem), v, v);
            break;
        }
        P("        for (size_t i = 0; i < %s_len; i++) {\n            ", v);
        write_elem(f->t->elem, ar_printf("%s[i]", v));
        P("\n        }\n    }\n");
        break;
    case K_MAP:
        if (req)
            P("    {\n");
        else
            P("    if (%s_len) {\n", v);
        P("        tidl_put_field(b, %d, TIDL_W_MAP);\n", id);
        P("        tidl_put_map_header(b, %s_len, %s, %s);\n", v, wire(f->t->key), wire(f->t->val));
        P("        for (size_t i = 0; i < %s_len; i++) {\n            ", v);
        write_elem(f->t->key, ar_printf("%s_keys[i]", v));
        P("\n            ");
        write_elem(f->t->val, ar_printf("%s_vals[i]", v));
        P("\n        }\n    }\n");
        break;
    default:
        break;
    }
}

/* Reads one list/map element into lv; on error jumps to fail. */
static void read_elem(const struct type *t, const char *lv, const char *ind)
{
    switch (t->k) {
    case K_BOOL: P("%sif ((rc = tidl_get_bool_elem(r, &%s)) < 0)\n", ind, lv); break;
    case K_I32:
    case K_ENUM: P("%sif ((rc = tidl_get_i32(r, &%s)) < 0)\n", ind, lv); break;
    case K_I64: P("%sif ((rc = tidl_get_i64(r, &%s)) < 0)\n", ind, lv); break;
    case K_DOUBLE: P("%sif ((rc = tidl_get_double(r, &%s)) < 0)\n", ind, lv); break;
    case K_STRING: P("%sif ((rc = tidl_get_string(r, &%s)) < 0)\n", ind, lv); break;
    case K_BINARY: P("%sif ((rc = tidl_get_bin(r, &%s)) < 0)\n", ind, lv); break;
    case K_STRUCT:
        P("%s%s_init(&%s);\n", ind, t->def->cname, lv);
        P("%sif ((rc = %s_read(r, &%s)) < 0)\n", ind, t->def->cname, lv);
        break;
    default: break;
    }
    P("%s    goto fail;\n", ind);
}

static void read_field(const struct def *d, const struct field *f, int reqbit)
{
    const char *v = ar_printf("x->%s", f->name);
    P("        case %d:\n            field = \"%s\";\n", f->id, f->name);
    if (f->t->k == K_BOOL) {
        P("            if (w != TIDL_W_TRUE && w != TIDL_W_FALSE) {\n");
        P("                rc = tidl_wire_mismatch(r, w, TIDL_W_TRUE);\n                goto fail;\n            }\n");
        P("            %s = w == TIDL_W_TRUE;\n", v);
    } else {
        P("            if (w != %s) {\n", wire(f->t));
        P("                rc = tidl_wire_mismatch(r, w, %s);\n                goto fail;\n            }\n", wire(f->t));
        switch (f->t->k) {
        case K_I32:
        case K_ENUM:
        case K_I64:
        case K_DOUBLE:
            read_elem(f->t, v, "            ");
            break;
        case K_STRING:
            P("            free(%s);\n            %s = NULL;\n", v, v);
            read_elem(f->t, v, "            ");
            break;
        case K_BINARY:
            P("            tidl_bin_release(&%s);\n", v);
            read_elem(f->t, v, "            ");
            break;
        case K_STRUCT:
            P("            %s_release(&%s);\n", f->t->def->cname, v);
            P("            if ((rc = %s_read(r, &%s)) < 0)\n                goto fail;\n", f->t->def->cname, v);
            break;
        case K_LIST: {
            release_field(f, "            ");
            P("            if ((rc = tidl_get_list_header(r, %s, &n)) < 0)\n                goto fail;\n", wire(f->t->elem));
            P("            if ((rc = tidl_alloc_array(r, n, sizeof(*%s), &arr)) < 0)\n                goto fail;\n", v);
            P("            %s = arr;\n            %s_len = n;\n", v, v);
            if (bulk_name(f->t->elem)) {
                P("            if ((rc = tidl_get_%s_elems(r, %s, n)) < 0)\n                goto fail;\n",
                  bulk_name(f->t->elem), v);
                break;
            }
            P("            for (size_t i = 0; i < n; i++) {\n");
            read_elem(f->t->elem, ar_printf("%s[i]", v), "                ");
            P("            }\n");
            break;
        }
        case K_MAP:
            release_field(f, "            ");
            P("            if ((rc = tidl_get_map_header(r, %s, %s, &n)) < 0)\n                goto fail;\n",
              wire(f->t->key), wire(f->t->val));
            P("            if ((rc = tidl_alloc_array(r, n, sizeof(*%s_keys), &arr)) < 0)\n                goto fail;\n", v);
            P("            %s_keys = arr;\n", v);
            P("            if ((rc = tidl_alloc_array(r, n, sizeof(*%s_vals), &arr)) < 0)\n                goto fail;\n", v);
            P("            %s_vals = arr;\n            %s_len = n;\n", v, v);
            P("            for (size_t i = 0; i < n; i++) {\n");
            read_elem(f->t->key, ar_printf("%s_keys[i]", v), "                ");
            read_elem(f->t->val, ar_printf("%s_vals[i]", v), "                ");
            P("            }\n");
            break;
        default:
            break;
        }
    }
    if (f->req == REQ_OPTIONAL && f->t->k != K_STRING && f->t->k != K_BINARY && f->t->k != K_LIST &&
        f->t->k != K_MAP)
        P("            x->has_%s = true;\n", f->name);
    if (reqbit >= 0)
        P("            seen |= UINT64_C(1) << %d;\n", reqbit);
    P("            break;\n");
    (void)d;
}

static void gen_struct_c(const struct def *d)
{
    const char *n = d->cname;
    /* init */
    P("void %s_init(struct %s *x)\n{\n    memset(x, 0, sizeof(*x));\n", n, n);
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->defval && f->t->k != K_STRING)
            P("    x->%s = %s;\n", f->name, default_expr(f));
        else if (f->t->k == K_STRUCT)
            P("    %s_init(&x->%s);\n", f->t->def->cname, f->name);
    }
    P("}\n\n");
    /* release */
    P("void %s_release(struct %s *x)\n{\n    if (!x)\n        return;\n", n, n);
    for (int i = 0; i < d->fields.n; i++)
        release_field(d->fields.v[i], "    ");
    P("    %s_init(x);\n}\n\n", n);
    /* write */
    P("void %s_write(struct buf *b, const struct %s *x)\n{\n", n, n);
    for (int i = 0; i < d->fields.n; i++)
        write_field(d->fields.v[i]);
    P("    tidl_put_stop(b);\n}\n\n");
    P("void %s_encode(const struct %s *x, struct buf *out)\n{\n    %s_write(out, x);\n}\n\n", n, n, n);
    /* read */
    bool has_list = false;
    int nreq = 0;
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->t->k == K_LIST || f->t->k == K_MAP)
            has_list = true;
        if (f->req == REQ_REQUIRED)
            nreq++;
    }
    P("void %s_defaults(struct %s *x)\n{\n", n, n);
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->t->k == K_STRING && f->req != REQ_OPTIONAL)
            P("    if (!x->%s)\n        x->%s = xstrdup(%s);\n", f->name, f->name,
              f->defval ? default_expr(f) : "\"\"");
        else if (f->t->k == K_STRUCT && f->req != REQ_OPTIONAL)
            P("    %s_defaults(&x->%s);\n", f->t->def->cname, f->name);
    }
    P("    (void)x;\n}\n\n");
    P("int %s_read(struct tidl_reader *r, struct %s *x)\n{\n", n, n);
    P("    uint32_t id;\n    enum tidl_wire w;\n    const char *field = NULL;\n");
    if (nreq)
        P("    uint64_t seen = 0;\n");
    if (has_list)
        P("    size_t n;\n    void *arr;\n");
    P("    int rc = tidl_enter(r);\n    if (rc < 0)\n        return rc;\n");
    P("    for (;;) {\n        field = NULL;\n        if ((rc = tidl_get_field(r, &id, &w)) < 0)\n            goto fail;\n");
    P("        if (id == 0)\n            break;\n        switch (id) {\n");
    int bit = 0;
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        read_field(d, f, f->req == REQ_REQUIRED ? bit++ : -1);
    }
    P("        default:\n            field = \"(unknown)\";\n            if ((rc = tidl_skip(r, w)) < 0)\n                goto fail;\n            break;\n");
    P("        }\n    }\n");
    bit = 0;
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->req == REQ_REQUIRED) {
            P("    if (!(seen & (UINT64_C(1) << %d))) {\n", bit++);
            P("        rc = tidl_missing(r, \"%s.%s\");\n        goto out;\n    }\n", d->name, f->name);
        }
    }
    P("    %s_defaults(x);\n", n);
    P("    rc = 0;\n    goto out;\nfail:\n");
    P("    tidl_leave(r);\n    tidl_fail_prefix(r, \"%s\", field);\n", d->name);
    P("    return rc;\nout:\n    tidl_leave(r);\n    return rc;\n}\n\n");
    /* decode */
    P("int %s_decode(const void *data, size_t len, const struct tidl_limits *lim, struct %s *ret, struct err *e)\n{\n", n, n);
    P("    struct tidl_reader r;\n    %s_init(ret);\n", n);
    P("    int rc = tidl_reader_init(&r, data, len, lim, e);\n");
    P("    if (rc == 0)\n        rc = %s_read(&r, ret);\n", n);
    P("    if (rc == 0)\n        rc = tidl_reader_finish(&r, \"%s\");\n", d->name);
    P("    if (rc < 0) {\n        err_prefix(e, \"decoding %s\");\n        %s_release(ret);\n    }\n    return rc;\n}\n\n", d->name, n);
    /* add helpers */
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        if (f->t->k != K_LIST)
            continue;
        const struct type *et = f->t->elem;
        gen_add_sig(d, f, "\n{\n");
        P("    void *arr = x->%s;\n", f->name);
        P("    %s = tidl_array_add(&arr, &x->%s_len, sizeof(*x->%s));\n", decl(et, "p", true), f->name, f->name);
        P("    x->%s = arr;\n", f->name);
        if (et->k == K_STRUCT)
            P("    %s_init(p);\n    return p;\n", et->def->cname);
        else if (et->k == K_STRING)
            P("    *p = xstrdup(v ? v : \"\");\n");
        else if (et->k == K_BINARY)
            P("    p->data = xmalloc(len + 1);\n    if (len)\n        memcpy(p->data, data, len);\n    p->len = len;\n");
        else
            P("    *p = v;\n");
        P("}\n\n");
    }
}

static void gen_enum_c(const struct def *d)
{
    P("const char *%s_name(int32_t v)\n{\n    switch (v) {\n", d->cname);
    for (int i = 0; i < d->values.n; i++) {
        struct enumval *v = d->values.v[i];
        P("    case %s_%s: return \"%s\";\n", d->upper, v->name, v->name);
    }
    P("    default: return NULL;\n    }\n}\n\n");
    P("int %s_from_name(const char *name, int32_t *ret)\n{\n", d->cname);
    for (int i = 0; i < d->values.n; i++) {
        struct enumval *v = d->values.v[i];
        P("    if (!strcasecmp(name, \"%s\")) {\n        *ret = %s_%s;\n        return 0;\n    }\n", v->name,
          d->upper, v->name);
    }
    P("    (void)ret;\n    return FLOE_ENOTFOUND;\n}\n\n");
}

static void gen_service_c(const struct def *d)
{
    const char *n = d->cname;
    P("const char *%s_method_name(uint32_t id)\n{\n    switch (id) {\n", n);
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        P("    case %d: return \"%s.%s\";\n", m->id, d->name, m->name);
    }
    P("    default: return NULL;\n    }\n}\n\n");
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        const char *rq = m->arg->def->cname, *rp = m->ret->def->cname;
        P("static void %s_enc_%s(const void *m, struct buf *out)\n{\n    %s_encode(m, out);\n}\n\n", n, m->name, rq);
        P("static int %s_dec_%s(const void *data, size_t len, void *ret, struct err *e)\n{\n", n, m->name);
        P("    if (!data) {\n        %s_init(ret);\n        return 0;\n    }\n", rp);
        P("    return %s_decode(data, len, NULL, ret, e);\n}\n\n", rp);
        P("int %s_%s(struct rpc_client *c, const struct %s *req, struct %s *ret, struct err *e)\n{\n",
          n, m->name, rq, rp);
        P("    int rc = rpc_call_msg(c, %d, %s_enc_%s, req, %s_dec_%s, ret, e);\n", m->id, n, m->name, n, m->name);
        P("    if (rc < 0)\n        err_prefix(e, \"%s.%s\");\n    return rc;\n}\n\n", d->name, m->name);
        P("static int %s_dispatch_%s(void *arg, const struct rpc_request *rq, struct buf *out, struct err *e)\n{\n", n, m->name);
        P("    const struct %s_handlers *h = arg;\n    struct %s req;\n    struct %s reply;\n", n, rq, rp);
        P("    int rc = %s_decode(rq->data, rq->len, h->limits, &req, e);\n", rq);
        P("    if (rc < 0) {\n        err_prefix(e, \"%s.%s request\");\n        return rc;\n    }\n", d->name, m->name);
        P("    %s_init(&reply);\n    rc = h->%s(h->ctx, &req, &reply, e);\n", rp, m->name);
        P("    if (rc == 0)\n        %s_encode(&reply, out);\n", rp);
        P("    %s_release(&reply);\n    %s_release(&req);\n    return rc;\n}\n\n", rp, rq);
    }
    for (int pass = 0; pass < 2; pass++) {
        P("int %s_check_%s(uint32_t id, const void *data, size_t len, const struct tidl_limits *lim, struct buf *out, struct err *e)\n{\n",
          n, pass ? "reply" : "request");
        P("    int rc;\n    switch (id) {\n");
        for (int i = 0; i < d->methods.n; i++) {
            struct method *m = d->methods.v[i];
            const char *t = pass ? m->ret->def->cname : m->arg->def->cname;
            P("    case %d: {\n        struct %s v;\n        rc = %s_decode(data, len, lim, &v, e);\n", m->id, t, t);
            P("        if (rc == 0)\n            %s_encode(&v, out);\n        %s_release(&v);\n        return rc;\n    }\n", t, t);
        }
        P("    default:\n        (void)data;\n        (void)len;\n        (void)lim;\n        (void)out;\n        (void)rc;\n");
        P("        return err_set(e, FLOE_EUNSUPPORTED, \"%s: unknown method %%u\", id);\n    }\n}\n\n", d->name);
    }
    P("int %s_register(struct rpc_server *s, const struct %s_handlers *h, struct err *e)\n{\n    int rc = 0;\n", n, n);
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        P("    if (h->%s && (rc = rpc_server_add_method(s, %d, \"%s.%s\", %s_dispatch_%s, (void *)h, e)) < 0)\n        return rc;\n",
          m->name, m->id, d->name, m->name, n, m->name);
    }
    P("    return rc;\n}\n\n");
}

static FILE *open_out(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        perror(path);
    return fp;
}

int tidlc_generate(const struct file *f, const char *outdir)
{
    bool has_service = false;
    for (int i = 0; i < f->defs.n; i++)
        if (((struct def *)f->defs.v[i])->dk == D_SERVICE)
            has_service = true;
    const char *hpath = ar_printf("%s/%s_idl.h", outdir, f->base);
    const char *cpath = ar_printf("%s/%s_idl.c", outdir, f->base);
    const char *guard = ar_printf("TIDL_GEN_%s_IDL_H", upper_name(f->base));

    if (!(out = open_out(hpath)))
        return -1;
    P("/* Generated by tidlc from %s. Do not edit. */\n", f->path);
    P("#ifndef %s\n#define %s\n\n#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n", guard, guard);
    P("#include \"buf.h\"\n#include \"err.h\"\n#include \"tidl.h\"\n");
    for (int i = 0; i < f->includes.n; i++)
        P("#include \"%s_idl.h\"\n", ((struct file *)f->includes.v[i])->base);
    if (has_service)
        P("#include \"rpc.h\"\n");
    P("\n");
    for (int i = 0; i < f->defs.n; i++) {
        struct def *d = f->defs.v[i];
        if (d->dk == D_ENUM)
            gen_enum_h(d);
        else if (d->dk == D_STRUCT)
            P("struct %s;\n", d->cname);
    }
    P("\n");
    for (int i = 0; i < f->defs.n; i++) {
        struct def *d = f->defs.v[i];
        if (d->dk == D_STRUCT)
            gen_struct_h(d);
        else if (d->dk == D_SERVICE)
            gen_service_h(d);
    }
    P("#endif\n");
    if (fclose(out) != 0) {
        perror(hpath);
        return -1;
    }

    if (!(out = open_out(cpath)))
        return -1;
    P("/* Generated by tidlc from %s. Do not edit. */\n", f->path);
    P("#include \"%s_idl.h\"\n\n#include <stdlib.h>\n#include <string.h>\n#include <strings.h>\n\n", f->base);
    for (int i = 0; i < f->defs.n; i++) {
        struct def *d = f->defs.v[i];
        if (d->dk == D_ENUM)
            gen_enum_c(d);
        else if (d->dk == D_STRUCT)
            gen_struct_c(d);
        else
            gen_service_c(d);
    }
    if (fclose(out) != 0) {
        perror(cpath);
        return -1;
    }
    return 0;
}
