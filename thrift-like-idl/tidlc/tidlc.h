/*
 * tidlc: the compiler from .tidl interface files to C. This header is shared
 * by its parser (tidlc_parse.c) and its generator (tidlc_gen.c).
 *
 * tidlc is a build tool: everything it allocates lives in one arena that is
 * freed on exit, and the first error ends the run with "file:line:col: msg".
 */
#ifndef TIDLC_H
#define TIDLC_H

#include <stdbool.h>
#include <stdio.h>

void *ar_alloc(size_t n);               /* zeroed, never NULL */
char *ar_strdup(const char *s);
char *ar_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ar_free_all(void);

struct vec {
    void **v;
    int n, cap;
};
void vec_push(struct vec *v, void *p);

/* Prints "file:line:col: message" and exits with status 1. */
void die_at(const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

enum kind { K_BOOL, K_I32, K_I64, K_DOUBLE, K_STRING, K_BINARY, K_LIST, K_MAP, K_STRUCT, K_ENUM,
            K_REF /* unresolved name */ };

struct def;

struct type {
    enum kind k;
    struct type *elem, *key, *val;  /* list elem; map key/val */
    const char *ref;                /* K_REF: the name as written */
    struct def *def;                /* K_STRUCT / K_ENUM */
    const char *file;
    int line, col;
};

enum cv_kind { CV_INT, CV_DOUBLE, CV_STRING, CV_IDENT };
struct constval {
    enum cv_kind k;
    long long i;
    double d;
    const char *s;
    int line, col;
};

enum req { REQ_DEFAULT, REQ_REQUIRED, REQ_OPTIONAL };

struct field {
    int id;
    const char *name;
    enum req req;
    struct type *t;
    struct constval *defval;
    int line, col;
};

struct enumval {
    const char *name;
    long long v;
};

struct method {
    int id;
    const char *name;
    struct type *ret, *arg;
    const char *argname;
    int line, col;
};

enum def_kind { D_STRUCT, D_ENUM, D_SERVICE };

struct file;

struct def {
    enum def_kind dk;
    const char *name;       /* as written: ColumnDef */
    const char *cname;      /* ns_column_def */
    const char *upper;      /* NS_COLUMN_DEF */
    struct file *file;
    int order;              /* position in its file */
    struct vec fields;      /* struct field * */
    struct vec values;      /* struct enumval * */
    struct vec methods;     /* struct method * */
    int line, col;
};

struct file {
    const char *path;
    const char *base;       /* "backend" for .../backend.tidl */
    const char *ns;
    struct vec includes;    /* struct file * */
    struct vec defs;        /* struct def * */
};

/* Parses path and (recursively) its includes, then resolves and checks. */
struct file *tidlc_parse(const char *path);
/* Every file parsed, for dependency output. */
extern struct vec tidlc_all_files;

/* Writes <outdir>/<base>_idl.h and <base>_idl.c. Returns 0 or -1 (message printed). */
int tidlc_generate(const struct file *f, const char *outdir);

#endif
