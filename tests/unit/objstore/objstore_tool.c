/*
 * objstore_tool: a small command-line client over objstore.h, for the
 * integration scripts (cross-checks with awscli, the fault proxy test) and
 * the benchmark. The store is described by key=value arguments (the names
 * of objstore_conf_set) before the command; secrets come from the
 * environment (credentials=env).
 *
 *   objstore_tool [key=value...] put KEY FILE
 *   objstore_tool [key=value...] get KEY FILE
 *   objstore_tool [key=value...] cat KEY
 *   objstore_tool [key=value...] head KEY
 *   objstore_tool [key=value...] list PREFIX
 *   objstore_tool [key=value...] rm KEY...
 *   objstore_tool [key=value...] rm-prefix PREFIX
 *   objstore_tool [key=value...] put-dir DIR PREFIX JOBS     every file of DIR
 *   objstore_tool [key=value...] get-prefix PREFIX DIR JOBS  every object under PREFIX
 *
 * get uses objstore_get_file (temp file, fsync, rename); get-prefix reads
 * each object into memory and writes a plain file, like other S3 clients do.
 *
 * At exit it prints the counters as one JSON line on stderr:
 *   {"requests":N,"retries":N,"errors":N,"bytes_up":N,"bytes_down":N,"seconds":F}
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "objstore.h"

struct job {
    struct objstore *os;
    char **a, **b;     /* put-dir: paths, keys; get-prefix: keys, paths */
    size_t n;
    size_t next;       /* atomic */
    bool put;
    int rc;            /* atomic: first failure */
    pthread_mutex_t mu;
    struct err err;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n || __atomic_load_n(&j->rc, __ATOMIC_RELAXED))
            break;
        struct err e;
        int r;
        if (j->put) {
            r = objstore_put_file(j->os, j->b[i], j->a[i], &e);
        } else {
            struct buf b = BUF_INIT;
            r = objstore_get_buf(j->os, j->a[i], 0, OBJSTORE_TO_END, &b, &e);
            if (r == 0) {
                FILE *f = fopen(j->b[i], "we");
                if (!f || fwrite(b.data ? b.data : "", 1, b.len, f) != b.len)
                    r = err_errno(&e, errno ? errno : EIO, "write %s", j->b[i]);
                if (f && fclose(f) != 0 && r == 0)
                    r = err_errno(&e, errno, "close %s", j->b[i]);
            }
            buf_release(&b);
        }
        if (r < 0) {
            pthread_mutex_lock(&j->mu);
            if (!j->rc) {
                j->rc = r;
                j->err = e;
            }
            pthread_mutex_unlock(&j->mu);
        }
    }
    return NULL;
}

static int run_jobs(struct job *j, int jobs)
{
    pthread_t th[256];
    if (jobs < 1)
        jobs = 1;
    if (jobs > 256)
        jobs = 256;
    pthread_mutex_init(&j->mu, NULL);
    for (int t = 0; t < jobs; t++)
        pthread_create(&th[t], NULL, worker, j);
    for (int t = 0; t < jobs; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j->mu);
    if (j->rc)
        fprintf(stderr, "objstore_tool: %s\n", err_msg(&j->err));
    return j->rc;
}


static int cmd_put_dir(struct objstore *os, const char *dir, const char *prefix, int jobs)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "objstore_tool: open %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    struct job j = {.os = os, .put = true};
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *path = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (j.n == cap) {
            cap = cap ? cap * 2 : 64;
            j.a = xrealloc(j.a, cap * sizeof(char *));
            j.b = xrealloc(j.b, cap * sizeof(char *));
        }
        j.a[j.n] = path;
        j.b[j.n] = xasprintf("%s%s", prefix, de->d_name);
        j.n++;
    }
    closedir(d);
    int r = run_jobs(&j, jobs);
    for (size_t i = 0; i < j.n; i++) {
        free(j.a[i]);
        free(j.b[i]);
    }
    free(j.a);
    free(j.b);
    return r;
}

static int cmd_get_prefix(struct objstore *os, const char *prefix, const char *dir, int jobs)
{
    struct objstore_list l;
    struct err e;
    int r = objstore_list(os, prefix, &l, &e);
    if (r < 0) {
        fprintf(stderr, "objstore_tool: %s\n", err_msg(&e));
        return r;
    }
    struct job j = {.os = os, .put = false, .n = l.n};
    j.a = xcalloc(l.n + 1, sizeof(char *));
    j.b = xcalloc(l.n + 1, sizeof(char *));
    for (size_t i = 0; i < l.n; i++) {
        const char *rel = l.entries[i].key + strlen(prefix);
        j.a[i] = l.entries[i].key;
        j.b[i] = xasprintf("%s/%s", dir, strchr(rel, '/') ? strrchr(rel, '/') + 1 : rel);
    }
    r = run_jobs(&j, jobs);
    for (size_t i = 0; i < l.n; i++)
        free(j.b[i]);
    free(j.a);
    free(j.b);
    objstore_list_release(&l);
    return r;
}

static int usage(void)
{
    fprintf(stderr, "usage: objstore_tool [key=value...] put|get|cat|head|list|rm|rm-prefix|put-dir|get-prefix ARGS\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct objstore_conf conf;
    struct err e;
    objstore_conf_init(&conf);
    log_set_role("ctl");
    int i = 1;
    for (; i < argc && strchr(argv[i], '='); i++) {
        char *name = xstrndup(argv[i], (size_t)(strchr(argv[i], '=') - argv[i]));
        int r = objstore_conf_set(&conf, name, strchr(argv[i], '=') + 1, &e);
        free(name);
        if (r < 0) {
            fprintf(stderr, "objstore_tool: %s\n", err_msg(&e));
            return 2;
        }
    }
    if (i >= argc)
        return usage();
    const char *cmd = argv[i++];
    int nargs = argc - i;
    char **args = argv + i;
    struct objstore *os = NULL;
    int r = objstore_open(&conf, &os, &e);
    objstore_conf_release(&conf);
    if (r < 0) {
        fprintf(stderr, "objstore_tool: %s\n", err_msg(&e));
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    err_clear(&e);
    if (!strcmp(cmd, "put") && nargs == 2) {
        r = objstore_put_file(os, args[0], args[1], &e);
    } else if (!strcmp(cmd, "get") && nargs == 2) {
        r = objstore_get_file(os, args[0], 0, OBJSTORE_TO_END, args[1], &e);
    } else if (!strcmp(cmd, "cat") && nargs == 1) {
        struct buf b = BUF_INIT;
        r = objstore_get_buf(os, args[0], 0, OBJSTORE_TO_END, &b, &e);
        if (r == 0)
            fwrite(b.data ? b.data : "", 1, b.len, stdout);
        buf_release(&b);
    } else if (!strcmp(cmd, "head") && nargs == 1) {
        struct objstore_info info;
        r = objstore_head(os, args[0], &info, &e);
        if (r == 0)
            printf("%" PRIu64 " %s %" PRId64 "\n", info.size, info.etag, info.mtime_ms);
    } else if (!strcmp(cmd, "list") && nargs == 1) {
        struct objstore_list l;
        r = objstore_list(os, args[0], &l, &e);
        for (size_t k = 0; r == 0 && k < l.n; k++)
            printf("%" PRIu64 " %s\n", l.entries[k].size, l.entries[k].key);
        if (r == 0)
            objstore_list_release(&l);
    } else if (!strcmp(cmd, "rm") && nargs >= 1) {
        r = objstore_delete_many(os, (const char *const *)args, (size_t)nargs, NULL, &e);
    } else if (!strcmp(cmd, "rm-prefix") && nargs == 1) {
        struct objstore_list l;
        r = objstore_list(os, args[0], &l, &e);
        if (r == 0) {
            const char **keys = xcalloc(l.n + 1, sizeof(char *));
            for (size_t k = 0; k < l.n; k++)
                keys[k] = l.entries[k].key;
            r = objstore_delete_many(os, keys, l.n, NULL, &e);
            free(keys);
            objstore_list_release(&l);
        }
    } else if (!strcmp(cmd, "put-dir") && nargs == 3) {
        r = cmd_put_dir(os, args[0], args[1], atoi(args[2]));
    } else if (!strcmp(cmd, "get-prefix") && nargs == 3) {
        r = cmd_get_prefix(os, args[0], args[1], atoi(args[2]));
    } else {
        objstore_close(os);
        return usage();
    }
    if (r < 0 && e.code)
        fprintf(stderr, "objstore_tool: %s\n", err_msg(&e));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct objstore_stats s;
    objstore_stats_get(os, &s);
    uint64_t req = 0, ret = 0, errs = 0;
    for (int k = 0; k < OBJSTORE_OP_N; k++) {
        req += s.requests[k];
        ret += s.retries[k];
        errs += s.errors[k];
    }
    fprintf(stderr, "{\"requests\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64 ",\"seconds\":%.3f}\n",
            req, ret, errs, s.bytes_up, s.bytes_down,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    objstore_close(os);
    return r < 0 ? 1 : 0;
}
