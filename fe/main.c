/* floe-fe: the frontend (master) process. Wires the fe library together. */
#include "err.h"
#include "fault.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: floe-fe [--config FILE] [--version] [--help]\n"
            "  floe-fe is floe's master: catalog, journal, loads, cooldown election\n"
            "  and the remote delete handshake.\n");
}

int main(int argc, char **argv)
{
    log_set_role("fe");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("floe-fe %s\n", FLOE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "floe-fe: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    struct err e = { 0 };
    if (fault_init_from_env(&e) < 0) {
        fprintf(stderr, "floe-fe: %s\n", err_msg(&e));
        return 2;
    }
    usage(stderr);
    return 2;
}
