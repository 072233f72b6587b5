/*
 * tidlc: command line. Compiles one .tidl file (its includes are read for
 * the types they define) into <base>_idl.h and <base>_idl.c.
 *
 *   tidlc -o OUTDIR [-d DEPFILE] FILE.tidl
 *   tidlc --check STAMP FILE.tidl...   checks that the files can be used
 *                                      together (no name defined twice),
 *                                      then touches STAMP
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidlc.h"

struct chunk {
    struct chunk *next;
    max_align_t data[];
};
static struct chunk *chunks;

void *ar_alloc(size_t n)
{
    struct chunk *c = calloc(1, sizeof(*c) + n);
    if (!c) {
        fprintf(stderr, "tidlc: out of memory\n");
        exit(2);
    }
    c->next = chunks;
    chunks = c;
    return c->data;
}

char *ar_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = ar_alloc(n + 1);
    memcpy(p, s, n);
    return p;
}

char *ar_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = ar_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void ar_free_all(void)
{
    while (chunks) {
        struct chunk *n = chunks->next;
        free(chunks);
        chunks = n;
    }
}

void vec_push(struct vec *v, void *p)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        void **nv = ar_alloc(sizeof(void *) * (size_t)cap);
        if (v->n)
            memcpy(nv, v->v, sizeof(void *) * (size_t)v->n);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = p;
}

void die_at(const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d:%d: ", file, line, col);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ar_free_all();
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: tidlc -o OUTDIR [-d DEPFILE] FILE.tidl\n"
                    "       tidlc --check STAMP FILE.tidl...\n");
    exit(2);
}

static int write_depfile(const char *path, const char *outdir, const struct file *f)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return -1;
    }
    fprintf(fp, "%s/%s_idl.h %s/%s_idl.c:", outdir, f->base, outdir, f->base);
    for (int i = 0; i < tidlc_all_files.n; i++)
        fprintf(fp, " %s", ((struct file *)tidlc_all_files.v[i])->path);
    fprintf(fp, "\n");
    return fclose(fp) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *outdir = NULL, *depfile = NULL, *input = NULL;
    if (argc >= 4 && !strcmp(argv[1], "--check")) {
        for (int i = 3; i < argc; i++)
            tidlc_parse(argv[i]);
        FILE *fp = fopen(argv[2], "w");
        if (!fp || fclose(fp) != 0) {
            perror(argv[2]);
            ar_free_all();
            return 1;
        }
        ar_free_all();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            outdir = argv[++i];
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            depfile = argv[++i];
        else if (argv[i][0] == '-')
            usage();
        else if (!input)
            input = argv[i];
        else
            usage();
    }
    if (!outdir || !input)
        usage();
    struct file *f = tidlc_parse(input);
    int rc = tidlc_generate(f, outdir);
    if (rc == 0 && depfile)
        rc = write_depfile(depfile, outdir, f);
    ar_free_all();
    return rc == 0 ? 0 : 1;
}
