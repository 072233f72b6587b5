/* floectl: the command-line client of a floe cluster. */
#include "err.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    log_set_role("ctl");
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("floectl %s\n", FLOE_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: floectl [--fe HOST:PORT] COMMAND ... (try --help)\n");
    return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
