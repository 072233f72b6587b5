/*
 * tidlc_parse: lexer, parser, name resolution and semantic checks for .tidl
 * files. Every error names file:line:col of the offending token.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidlc.h"

struct vec tidlc_all_files;

enum tk { TK_EOF, TK_IDENT, TK_INT, TK_DOUBLE, TK_STRING, TK_PUNCT };

struct tok {
    enum tk k;
    const char *s;      /* ident / string text */
    long long i;
    double d;
    char p;             /* punctuation */
    int line, col;
};

struct lexer {
    const char *path;
    const char *src;
    size_t pos, len;
    int line, col;
    struct tok cur;
};

static char peekc(struct lexer *L, size_t ahead)
{
    return L->pos + ahead < L->len ? L->src[L->pos + ahead] : '\0';
}

static void advance(struct lexer *L)
{
    if (L->src[L->pos] == '\n') {
        L->line++;
        L->col = 1;
    } else {
        L->col++;
    }
    L->pos++;
}

static void skip_space(struct lexer *L)
{
    for (;;) {
        char c = peekc(L, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance(L);
        } else if (c == '#' || (c == '/' && peekc(L, 1) == '/')) {
            while (L->pos < L->len && peekc(L, 0) != '\n')
                advance(L);
        } else if (c == '/' && peekc(L, 1) == '*') {
            int line = L->line, col = L->col;
            advance(L);
            advance(L);
            while (!(peekc(L, 0) == '*' && peekc(L, 1) == '/')) {
                if (L->pos >= L->len)
                    die_at(L->path, line, col, "unterminated comment");
                advance(L);
            }
            advance(L);
            advance(L);
        } else {
            return;
        }
    }
}

static void next(struct lexer *L)
{
    skip_space(L);
    struct tok *t = &L->cur;
    memset(t, 0, sizeof(*t));
    t->line = L->line;
    t->col = L->col;
    if (L->pos >= L->len) {
        t->k = TK_EOF;
        return;
    }
    char c = peekc(L, 0);
    size_t start = L->pos;
    if (isalpha((unsigned char)c) || c == '_') {
        while (isalnum((unsigned char)peekc(L, 0)) || peekc(L, 0) == '_' || peekc(L, 0) == '.')
            advance(L);
        char *s = ar_alloc(L->pos - start + 1);
        memcpy(s, L->src + start, L->pos - start);
        t->k = TK_IDENT;
        t->s = s;
        return;
    }
    if (isdigit((unsigned char)c) || ((c == '-' || c == '+') && isdigit((unsigned char)peekc(L, 1)))) {
        advance(L);
        bool is_double = false;
        while (isalnum((unsigned char)peekc(L, 0)) || peekc(L, 0) == '.' ||
               ((peekc(L, 0) == '-' || peekc(L, 0) == '+') &&
                (L->src[L->pos - 1] == 'e' || L->src[L->pos - 1] == 'E'))) {
            if (peekc(L, 0) == '.' || ((peekc(L, 0) == 'e' || peekc(L, 0) == 'E') &&
                                       !(L->pos - start > 1 && L->src[start + 1] == 'x')))
                is_double = true;
            advance(L);
        }
        char *s = ar_alloc(L->pos - start + 1);
        memcpy(s, L->src + start, L->pos - start);
        char *end;
        errno = 0;
        if (is_double) {
            t->k = TK_DOUBLE;
            t->d = strtod(s, &end);
        } else {
            t->k = TK_INT;
            t->i = strtoll(s, &end, 0);
        }
        if (*end || errno == ERANGE)
            die_at(L->path, t->line, t->col, "bad number '%s'", s);
        return;
    }
    if (c == '"') {
        advance(L);
        char *s = ar_alloc(L->len - L->pos + 1);
        size_t n = 0;
        for (;;) {
            char d = peekc(L, 0);
            if (L->pos >= L->len || d == '\n')
                die_at(L->path, t->line, t->col, "unterminated string");
            advance(L);
            if (d == '"')
                break;
            if (d == '\\') {
                char x = peekc(L, 0);
                advance(L);
                switch (x) {
                case 'n': d = '\n'; break;
                case 't': d = '\t'; break;
                case '\\': d = '\\'; break;
                case '"': d = '"'; break;
                default:
                    die_at(L->path, L->line, L->col - 2, "unknown escape '\\%c' in string", x);
                }
            }
            s[n++] = d;
        }
        t->k = TK_STRING;
        t->s = s;
        return;
    }
    if (strchr("{}()<>,;:=", c)) {
        advance(L);
        t->k = TK_PUNCT;
        t->p = c;
        return;
    }
    die_at(L->path, t->line, t->col, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
}

static const char *tok_desc(const struct tok *t)
{
    switch (t->k) {
    case TK_EOF: return "end of file";
    case TK_IDENT: return ar_printf("'%s'", t->s);
    case TK_INT: return ar_printf("number %lld", t->i);
    case TK_DOUBLE: return "a number";
    case TK_STRING: return "a string";
    case TK_PUNCT: return ar_printf("'%c'", t->p);
    }
    return "?";
}

static void expect_punct(struct lexer *L, char p, const char *ctx)
{
    if (L->cur.k != TK_PUNCT || L->cur.p != p)
        die_at(L->path, L->cur.line, L->cur.col, "expected '%c' %s, found %s", p, ctx,
               tok_desc(&L->cur));
    next(L);
}

static bool is_punct(struct lexer *L, char p)
{
    return L->cur.k == TK_PUNCT && L->cur.p == p;
}

static bool is_kw(struct lexer *L, const char *kw)
{
    return L->cur.k == TK_IDENT && !strcmp(L->cur.s, kw);
}

static const char *expect_ident(struct lexer *L, const char *what)
{
    if (L->cur.k != TK_IDENT)
        die_at(L->path, L->cur.line, L->cur.col, "expected %s, found %s", what, tok_desc(&L->cur));
    const char *s = L->cur.s;
    next(L);
    return s;
}

static void check_c_name(struct lexer *L, const char *s, int line, int col, const char *what)
{
    if (strchr(s, '.'))
        die_at(L->path, line, col, "%s '%s' must not contain '.'", what, s);
    static const char *const reserved[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
        "else", "enum", "extern", "float", "for", "goto", "if", "int", "long", "register",
        "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
        "union", "unsigned", "void", "volatile", "while", "bool", "true", "false", "inline",
        "restrict", "required", "optional", "list", "map", "string", "binary", "i32", "i64",
        "service", "namespace", "include", NULL,
    };
    for (int i = 0; reserved[i]; i++)
        if (!strcmp(s, reserved[i]))
            die_at(L->path, line, col, "%s '%s' is a reserved word", what, s);
}

static void skip_sep(struct lexer *L)
{
    if (is_punct(L, ',') || is_punct(L, ';'))
        next(L);
}

static struct type *parse_type(struct lexer *L)
{
    struct type *t = ar_alloc(sizeof(*t));
    t->file = L->path;
    t->line = L->cur.line;
    t->col = L->cur.col;
    const char *name = expect_ident(L, "a type");
    static const struct { const char *n; enum kind k; } base[] = {
        { "bool", K_BOOL }, { "i32", K_I32 }, { "i64", K_I64 }, { "double", K_DOUBLE },
        { "string", K_STRING }, { "binary", K_BINARY },
    };
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        if (!strcmp(name, base[i].n)) {
            t->k = base[i].k;
            return t;
        }
    if (!strcmp(name, "list")) {
        t->k = K_LIST;
        expect_punct(L, '<', "after 'list'");
        t->elem = parse_type(L);
        expect_punct(L, '>', "to close list<...>");
        return t;
    }
    if (!strcmp(name, "map")) {
        t->k = K_MAP;
        expect_punct(L, '<', "after 'map'");
        t->key = parse_type(L);
        expect_punct(L, ',', "between map key and value types");
        t->val = parse_type(L);
        expect_punct(L, '>', "to close map<...>");
        return t;
    }
    t->k = K_REF;
    t->ref = name;
    return t;
}

static struct constval *parse_const(struct lexer *L)
{
    struct constval *c = ar_alloc(sizeof(*c));
    c->line = L->cur.line;
    c->col = L->cur.col;
    switch (L->cur.k) {
    case TK_INT: c->k = CV_INT; c->i = L->cur.i; break;
    case TK_DOUBLE: c->k = CV_DOUBLE; c->d = L->cur.d; break;
    case TK_STRING: c->k = CV_STRING; c->s = L->cur.s; break;
    case TK_IDENT: c->k = CV_IDENT; c->s = L->cur.s; break;
    default:
        die_at(L->path, L->cur.line, L->cur.col, "expected a constant, found %s", tok_desc(&L->cur));
    }
    next(L);
    return c;
}

static int parse_id(struct lexer *L, const char *what)
{
    if (L->cur.k != TK_INT)
        die_at(L->path, L->cur.line, L->cur.col, "expected %s id (a number), found %s", what,
               tok_desc(&L->cur));
    long long v = L->cur.i;
    if (v < 1 || v > 65535)
        die_at(L->path, L->cur.line, L->cur.col, "%s id %lld out of range 1..65535", what, v);
    next(L);
    expect_punct(L, ':', ar_printf("after the %s id", what));
    return (int)v;
}

static void parse_struct(struct lexer *L, struct def *d)
{
    expect_punct(L, '{', ar_printf("to open struct %s", d->name));
    while (!is_punct(L, '}')) {
        if (L->cur.k == TK_EOF)
            die_at(L->path, L->cur.line, L->cur.col, "struct %s is not closed with '}'", d->name);
        struct field *f = ar_alloc(sizeof(*f));
        f->line = L->cur.line;
        f->col = L->cur.col;
        f->id = parse_id(L, "field");
        if (is_kw(L, "required")) {
            f->req = REQ_REQUIRED;
            next(L);
        } else if (is_kw(L, "optional")) {
            f->req = REQ_OPTIONAL;
            next(L);
        }
        f->t = parse_type(L);
        int nl = L->cur.line, nc = L->cur.col;
        f->name = expect_ident(L, "a field name");
        check_c_name(L, f->name, nl, nc, "field name");
        if (is_punct(L, '=')) {
            next(L);
            f->defval = parse_const(L);
        }
        skip_sep(L);
        for (int i = 0; i < d->fields.n; i++) {
            struct field *o = d->fields.v[i];
            if (o->id == f->id)
                die_at(L->path, f->line, f->col, "field id %d used twice in struct %s (also by '%s')",
                       f->id, d->name, o->name);
            if (!strcmp(o->name, f->name))
                die_at(L->path, nl, nc, "field name '%s' used twice in struct %s", f->name, d->name);
        }
        vec_push(&d->fields, f);
    }
    next(L);
}

static void parse_enum(struct lexer *L, struct def *d)
{
    expect_punct(L, '{', ar_printf("to open enum %s", d->name));
    long long nextv = 0;
    while (!is_punct(L, '}')) {
        if (L->cur.k == TK_EOF)
            die_at(L->path, L->cur.line, L->cur.col, "enum %s is not closed with '}'", d->name);
        struct enumval *v = ar_alloc(sizeof(*v));
        int line = L->cur.line, col = L->cur.col;
        v->name = expect_ident(L, "an enum value name");
        check_c_name(L, v->name, line, col, "enum value");
        v->v = nextv;
        if (is_punct(L, '=')) {
            next(L);
            if (L->cur.k != TK_INT)
                die_at(L->path, L->cur.line, L->cur.col, "expected an integer for enum value %s, found %s",
                       v->name, tok_desc(&L->cur));
            v->v = L->cur.i;
            next(L);
        }
        if (v->v < INT32_MIN || v->v > INT32_MAX)
            die_at(L->path, line, col, "enum value %s = %lld is out of i32 range", v->name, v->v);
        for (int i = 0; i < d->values.n; i++) {
            struct enumval *o = d->values.v[i];
            if (!strcmp(o->name, v->name))
                die_at(L->path, line, col, "enum value %s defined twice in %s", v->name, d->name);
            if (o->v == v->v)
                die_at(L->path, line, col, "enum %s: %s and %s both have value %lld", d->name,
                       o->name, v->name, v->v);
        }
        nextv = v->v + 1;
        skip_sep(L);
        vec_push(&d->values, v);
    }
    next(L);
}

static void parse_service(struct lexer *L, struct def *d)
{
    expect_punct(L, '{', ar_printf("to open service %s", d->name));
    while (!is_punct(L, '}')) {
        if (L->cur.k == TK_EOF)
            die_at(L->path, L->cur.line, L->cur.col, "service %s is not closed with '}'", d->name);
        struct method *m = ar_alloc(sizeof(*m));
        m->line = L->cur.line;
        m->col = L->cur.col;
        m->id = parse_id(L, "method");
        m->ret = parse_type(L);
        int nl = L->cur.line, nc = L->cur.col;
        m->name = expect_ident(L, "a method name");
        check_c_name(L, m->name, nl, nc, "method name");
        expect_punct(L, '(', ar_printf("after method name %s", m->name));
        if (L->cur.k != TK_INT || L->cur.i != 1)
            die_at(L->path, L->cur.line, L->cur.col,
                   "method %s takes exactly one argument numbered 1: (1: Request req)", m->name);
        next(L);
        expect_punct(L, ':', "after the argument id");
        m->arg = parse_type(L);
        m->argname = expect_ident(L, "an argument name");
        if (!is_punct(L, ')'))
            die_at(L->path, L->cur.line, L->cur.col,
                   "method %s takes exactly one argument; expected ')', found %s", m->name,
                   tok_desc(&L->cur));
        next(L);
        skip_sep(L);
        for (int i = 0; i < d->methods.n; i++) {
            struct method *o = d->methods.v[i];
            if (o->id == m->id)
                die_at(L->path, m->line, m->col, "method id %d used twice in service %s (also by %s)",
                       m->id, d->name, o->name);
            if (!strcmp(o->name, m->name))
                die_at(L->path, nl, nc, "method %s defined twice in service %s", m->name, d->name);
        }
        vec_push(&d->methods, m);
    }
    next(L);
}

/* "ColumnDef" -> "column_def", "RPCReply" -> "rpc_reply", "scan_next" -> "scan_next". */
static char *snake(const char *s)
{
    size_t n = strlen(s);
    char *o = ar_alloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isupper(c)) {
            bool prev_low = i > 0 && (islower((unsigned char)s[i - 1]) || isdigit((unsigned char)s[i - 1]));
            bool next_low = i + 1 < n && islower((unsigned char)s[i + 1]);
            bool prev_up = i > 0 && isupper((unsigned char)s[i - 1]);
            if (k > 0 && o[k - 1] != '_' && (prev_low || (prev_up && next_low)))
                o[k++] = '_';
            o[k++] = (char)tolower(c);
        } else {
            o[k++] = (char)c;
        }
    }
    return o;
}

static char *upper(const char *s)
{
    char *o = ar_strdup(s);
    for (char *p = o; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return o;
}

static char *read_file(const char *path, size_t *ret_len, const char *from, int line, int col)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (from)
            die_at(from, line, col, "cannot open included file %s: %s", path, strerror(errno));
        fprintf(stderr, "tidlc: cannot open %s: %s\n", path, strerror(errno));
        ar_free_all();
        exit(1);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "tidlc: out of memory\n");
            exit(2);
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    char *s = ar_alloc(n + 1);
    memcpy(s, buf, n);
    free(buf);
    *ret_len = n;
    return s;
}

static struct file *parse_file(const char *path, const char *from, int line, int col);

static struct file *find_file(const char *path)
{
    for (int i = 0; i < tidlc_all_files.n; i++) {
        struct file *f = tidlc_all_files.v[i];
        if (!strcmp(f->path, path))
            return f;
    }
    return NULL;
}

static struct file *parse_file(const char *path, const char *from, int fline, int fcol)
{
    struct file *done = find_file(path);
    if (done) {
        if (!done->ns)   /* still being parsed: an include cycle */
            die_at(from, fline, fcol, "include cycle through %s", path);
        return done;
    }
    struct file *f = ar_alloc(sizeof(*f));
    f->path = ar_strdup(path);
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    size_t bl = strlen(b);
    if (bl < 6 || strcmp(b + bl - 5, ".tidl"))
        die_at(from ? from : path, from ? fline : 1, from ? fcol : 1,
               "%s: interface files must end in .tidl", path);
    char *base = ar_alloc(bl);
    memcpy(base, b, bl - 5);
    f->base = base;
    vec_push(&tidlc_all_files, f);

    struct lexer L = { .path = f->path, .line = 1, .col = 1 };
    L.src = read_file(path, &L.len, from, fline, fcol);
    next(&L);
    const char *ns = NULL;
    while (is_kw(&L, "namespace") || is_kw(&L, "include")) {
        if (is_kw(&L, "namespace")) {
            next(&L);
            if (ns)
                die_at(L.path, L.cur.line, L.cur.col, "namespace given twice");
            int line = L.cur.line, col = L.cur.col;
            ns = expect_ident(&L, "a namespace name");
            check_c_name(&L, ns, line, col, "namespace");
            for (const char *p = ns; *p; p++)
                if (isupper((unsigned char)*p))
                    die_at(L.path, line, col, "namespace '%s' must be lower case (it prefixes C names)", ns);
        } else {
            int line = L.cur.line, col = L.cur.col;
            next(&L);
            if (L.cur.k != TK_STRING)
                die_at(L.path, L.cur.line, L.cur.col, "expected a quoted file name after include, found %s",
                       tok_desc(&L.cur));
            const char *inc = L.cur.s;
            const char *ipath = inc[0] == '/' || !slash
                                    ? inc
                                    : ar_printf("%.*s/%s", (int)(slash - path), path, inc);
            next(&L);
            vec_push(&f->includes, parse_file(ipath, L.path, line, col));
        }
        skip_sep(&L);
    }
    if (!ns)
        die_at(L.path, L.cur.line, L.cur.col, "expected 'namespace NAME' before the first definition");
    int order = 0;
    while (L.cur.k != TK_EOF) {
        int line = L.cur.line, col = L.cur.col;
        struct def *d = ar_alloc(sizeof(*d));
        if (is_kw(&L, "struct"))
            d->dk = D_STRUCT;
        else if (is_kw(&L, "enum"))
            d->dk = D_ENUM;
        else if (is_kw(&L, "service"))
            d->dk = D_SERVICE;
        else if (is_kw(&L, "namespace") || is_kw(&L, "include"))
            die_at(L.path, line, col, "%s must come before the first definition", L.cur.s);
        else
            die_at(L.path, line, col, "expected struct, enum or service, found %s", tok_desc(&L.cur));
        next(&L);
        d->line = L.cur.line;
        d->col = L.cur.col;
        d->name = expect_ident(&L, "a name");
        check_c_name(&L, d->name, d->line, d->col, "name");
        d->file = f;
        d->order = order++;
        d->cname = ar_printf("%s_%s", ns, snake(d->name));
        d->upper = upper(d->cname);
        if (d->dk == D_STRUCT)
            parse_struct(&L, d);
        else if (d->dk == D_ENUM)
            parse_enum(&L, d);
        else
            parse_service(&L, d);
        skip_sep(&L);
        vec_push(&f->defs, d);
    }
    f->ns = ns;
    return f;
}

/* Looks a name up in f and its direct includes; "types.ColumnDef" names the
 * include "types" explicitly. */
static struct def *lookup(const struct file *f, const char *name)
{
    const char *dot = strchr(name, '.');
    for (int pass = 0; pass <= f->includes.n; pass++) {
        const struct file *g = pass == 0 ? f : f->includes.v[pass - 1];
        const char *n = name;
        if (dot) {
            if (strncmp(g->base, name, (size_t)(dot - name)) || g->base[dot - name])
                continue;
            n = dot + 1;
        }
        for (int i = 0; i < g->defs.n; i++) {
            struct def *d = g->defs.v[i];
            if (!strcmp(d->name, n))
                return d;
        }
    }
    return NULL;
}

static void resolve(const struct file *f, struct type *t)
{
    if (t->k == K_LIST) {
        resolve(f, t->elem);
        return;
    }
    if (t->k == K_MAP) {
        resolve(f, t->key);
        resolve(f, t->val);
        return;
    }
    if (t->k != K_REF)
        return;
    struct def *d = lookup(f, t->ref);
    if (!d)
        die_at(t->file, t->line, t->col, "unknown type '%s'", t->ref);
    if (d->dk == D_SERVICE)
        die_at(t->file, t->line, t->col, "'%s' is a service, not a type", t->ref);
    t->k = d->dk == D_STRUCT ? K_STRUCT : K_ENUM;
    t->def = d;
}

static bool is_container(const struct type *t)
{
    return t->k == K_LIST || t->k == K_MAP;
}

static const char *kind_name(const struct type *t)
{
    static const char *const n[] = { "bool", "i32", "i64", "double", "string", "binary", "list",
                                     "map", "struct", "enum", "?" };
    return n[t->k];
}

static void check_default(const struct def *s, const struct field *f)
{
    const struct constval *c = f->defval;
    const char *file = s->file->path;
    if (!c)
        return;
    if (f->req == REQ_OPTIONAL)
        die_at(file, c->line, c->col, "optional field %s.%s cannot have a default", s->name, f->name);
    switch (f->t->k) {
    case K_BOOL:
        if (c->k != CV_IDENT || (strcmp(c->s, "true") && strcmp(c->s, "false")))
            die_at(file, c->line, c->col, "default of bool field %s must be true or false", f->name);
        return;
    case K_I32:
        if (c->k != CV_INT || c->i < INT32_MIN || c->i > INT32_MAX)
            die_at(file, c->line, c->col, "default of i32 field %s must be an integer in i32 range", f->name);
        return;
    case K_I64:
        if (c->k != CV_INT)
            die_at(file, c->line, c->col, "default of i64 field %s must be an integer", f->name);
        return;
    case K_DOUBLE:
        if (c->k != CV_INT && c->k != CV_DOUBLE)
            die_at(file, c->line, c->col, "default of double field %s must be a number", f->name);
        return;
    case K_STRING:
        if (c->k != CV_STRING)
            die_at(file, c->line, c->col, "default of string field %s must be a quoted string", f->name);
        return;
    case K_ENUM: {
        if (c->k != CV_IDENT)
            die_at(file, c->line, c->col, "default of enum field %s must be a value of %s", f->name,
                   f->t->def->name);
        const char *v = strrchr(c->s, '.');
        v = v ? v + 1 : c->s;
        for (int i = 0; i < f->t->def->values.n; i++)
            if (!strcmp(((struct enumval *)f->t->def->values.v[i])->name, v))
                return;
        die_at(file, c->line, c->col, "'%s' is not a value of enum %s", c->s, f->t->def->name);
    }
    default:
        die_at(file, c->line, c->col, "fields of type %s cannot have a default", kind_name(f->t));
    }
}

static void check_struct(struct def *d)
{
    const char *file = d->file->path;
    int nreq = 0;
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        struct type *t = f->t;
        resolve(d->file, t);
        if (t->k == K_LIST) {
            if (is_container(t->elem))
                die_at(file, t->elem->line, t->elem->col,
                       "list elements cannot be lists or maps; wrap the inner one in a struct");
        } else if (t->k == K_MAP) {
            enum kind k = t->key->k;
            if (k != K_I32 && k != K_I64 && k != K_STRING && k != K_ENUM)
                die_at(file, t->key->line, t->key->col, "map keys must be i32, i64, string or an enum");
            if (is_container(t->val))
                die_at(file, t->val->line, t->val->col,
                       "map values cannot be lists or maps; wrap the inner one in a struct");
        } else if (t->k == K_STRUCT) {
            if (t->def == d)
                die_at(file, t->line, t->col, "struct %s contains itself by value; use a list<%s>",
                       d->name, d->name);
            if (t->def->file == d->file && t->def->order > d->order)
                die_at(file, t->line, t->col,
                       "struct %s is used by value before it is defined; move its definition up",
                       t->def->name);
        }
        struct type *et = t->k == K_LIST ? t->elem : t->k == K_MAP ? t->val : NULL;
        if (et && et->k == K_STRUCT && et->def != d && et->def->file == d->file &&
            et->def->order > d->order)
            die_at(file, et->line, et->col,
                   "struct %s is used before it is defined; move its definition up", et->def->name);
        if (f->req == REQ_REQUIRED && ++nreq > 64)
            die_at(file, f->line, f->col, "struct %s has more than 64 required fields", d->name);
        if (!strncmp(f->name, "has_", 4))
            die_at(file, f->line, f->col, "field names starting with has_ are reserved");
        check_default(d, f);
    }
    /* generated member names: f, f_len, f_keys, f_vals, has_f must not collide */
    for (int i = 0; i < d->fields.n; i++) {
        struct field *f = d->fields.v[i];
        for (int j = 0; j < d->fields.n; j++) {
            struct field *g = d->fields.v[j];
            if (!is_container(g->t))
                continue;
            const char *suf[] = { "_len", "_keys", "_vals" };
            for (int k = 0; k < 3; k++)
                if (!strcmp(f->name, ar_printf("%s%s", g->name, suf[k])))
                    die_at(file, f->line, f->col, "field name %s collides with the generated %s of field %s",
                           f->name, suf[k], g->name);
        }
    }
}

static void check_service(struct def *d)
{
    for (int i = 0; i < d->methods.n; i++) {
        struct method *m = d->methods.v[i];
        resolve(d->file, m->ret);
        resolve(d->file, m->arg);
        if (m->ret->k != K_STRUCT)
            die_at(m->ret->file, m->ret->line, m->ret->col, "method %s must return a struct", m->name);
        if (m->arg->k != K_STRUCT)
            die_at(m->arg->file, m->arg->line, m->arg->col, "argument of method %s must be a struct",
                   m->name);
    }
}

struct file *tidlc_parse(const char *path)
{
    struct file *root = parse_file(path, NULL, 0, 0);
    /* names must be unique across a file and its includes (one C namespace) */
    for (int fi = 0; fi < tidlc_all_files.n; fi++) {
        struct file *f = tidlc_all_files.v[fi];
        for (int i = 0; i < f->defs.n; i++) {
            struct def *d = f->defs.v[i];
            for (int gj = 0; gj <= fi; gj++) {
                struct file *g = tidlc_all_files.v[gj];
                for (int j = 0; j < g->defs.n; j++) {
                    struct def *o = g->defs.v[j];
                    if (o == d)
                        break;
                    if (!strcmp(o->cname, d->cname) || !strcmp(o->name, d->name))
                        die_at(f->path, d->line, d->col, "'%s' is already defined at %s:%d:%d",
                               d->name, g->path, o->line, o->col);
                }
            }
        }
    }
    for (int fi = 0; fi < tidlc_all_files.n; fi++) {
        struct file *f = tidlc_all_files.v[fi];
        for (int i = 0; i < f->defs.n; i++) {
            struct def *d = f->defs.v[i];
            if (d->dk == D_STRUCT)
                check_struct(d);
            else if (d->dk == D_SERVICE)
                check_service(d);
        }
    }
    return root;
}
