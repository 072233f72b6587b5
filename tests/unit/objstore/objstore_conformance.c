/*
 * objstore_conformance: runs the conformance cases against the store that
 * the key=value arguments describe (the names of objstore_conf_set).
 * Secrets belong in the environment (credentials=env), not on the command line.
 *
 *   objstore_conformance [--label L] [--verifies-signature] [--ctl CMD]
 *                        [--only CASE] [--quirks LIST] [--expect-denied] key=value...
 *
 * --expect-denied: the described store must refuse access (e.g. a profile
 * with a wrong secret); use it with --only denied.
 *
 * Prints "PASS <label>.<case>" / "FAIL <label>.<case>: why" and exits 1 when
 * any case failed, 2 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conformance.h"
#include "err.h"
#include "log.h"

int main(int argc, char **argv)
{
    struct objstore_conf conf;
    struct conformance_opts opts = {.label = "store"};
    struct err e;
    objstore_conf_init(&conf);
    log_set_role("test");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--label") && i + 1 < argc) {
            opts.label = argv[++i];
        } else if (!strcmp(a, "--verifies-signature")) {
            opts.verifies_signature = true;
        } else if (!strcmp(a, "--expect-denied")) {
            opts.expect_denied = true;
        } else if (!strcmp(a, "--ctl") && i + 1 < argc) {
            opts.ctl = argv[++i];
        } else if (!strcmp(a, "--quirks") && i + 1 < argc) {
            opts.quirks = argv[++i];
        } else if (!strcmp(a, "--only") && i + 1 < argc) {
            opts.only = argv[++i];
        } else if (strchr(a, '=') && a[0] != '-') {
            char *name = xstrndup(a, (size_t)(strchr(a, '=') - a));
            int r = objstore_conf_set(&conf, name, strchr(a, '=') + 1, &e);
            free(name);
            if (r < 0) {
                fprintf(stderr, "objstore_conformance: %s\n", err_msg(&e));
                return 2;
            }
        } else {
            fprintf(stderr, "objstore_conformance: unknown argument '%s'\n", a);
            return 2;
        }
    }
    int failed = conformance_run(&conf, &opts, stdout);
    objstore_conf_release(&conf);
    return failed ? 1 : 0;
}
