/* floe-be: the backend (tablet server) process. Wires the be library together. */
#include "err.h"
#include "fault.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: floe-be [--config FILE] [--version] [--help]\n"
            "  floe-be is floe's backend: it stores tablets on local disk and cools\n"
            "  them down to an object store under the FE master's cooldown conf.\n");
}

int main(int argc, char **argv)
{
    log_set_role("be");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("floe-be %s\n", FLOE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "floe-be: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    struct err e = { 0 };
    if (fault_init_from_env(&e) < 0) {
        fprintf(stderr, "floe-be: %s\n", err_msg(&e));
        return 2;
    }
    usage(stderr);
    return 2;
}
