/*
 * conformance: one set of object-store cases that every driver and server
 * must pass (local directory, Swift's S3 API, s3rver). Used by the unit
 * runner (local driver) and by the objstore_conformance program the
 * integration scripts run against real S3 servers.
 */
#ifndef FLOE_TEST_OBJSTORE_CONFORMANCE_H
#define FLOE_TEST_OBJSTORE_CONFORMANCE_H

#include <stdbool.h>
#include <stdio.h>

#include "objstore.h"

struct conformance_opts {
    const char *label;       /* printed before each case name: "PASS <label>.<case>" */
    bool verifies_signature; /* the server rejects a wrong secret (Swift, AWS) */
    const char *ctl;         /* command run as "<ctl> stop" / "<ctl> start" to kill and
                                restart the server; NULL skips the kill case */
    const char *only;        /* run only these cases, comma-separated (NULL: all) */
    bool expect_denied;      /* the store as configured must be refused (FLOE_EACCESS):
                                runs the "denied" case, which is skipped otherwise */
    const char *quirks;      /* known server defects to tolerate, comma-separated:
                                "dot-segments" (keys with "/./" are listed without it) */
};

/*
 * Runs every case against the store described by conf (each run under a
 * fresh sub-prefix, removed at the end). Prints one PASS/FAIL line per case
 * to out. Returns the number of failed cases.
 */
int conformance_run(const struct objstore_conf *conf, const struct conformance_opts *opts, FILE *out);

#endif
