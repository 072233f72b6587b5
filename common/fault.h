/*
 * fault: named fault points for tests.
 *
 *     int r = FAULT_POINT("cooldown.after_upload");
 *     if (r < 0) return err_set(e, r, "...");
 *
 * Compiled in only with the meson option -Dfaults=true (FLOE_FAULTS defined);
 * otherwise FAULT_POINT is the constant 0 and FAULT_ON is false. Points are
 * armed by the environment variable FLOE_FAULTS (read by fault_init_from_env,
 * which every main() calls) or by fault_set():
 *
 *     FLOE_FAULTS="name=mode,name2=mode2"
 *
 * modes (aliases in brackets; both spellings are accepted):
 *   error       every hit fails with FLOE_EFAULT            [error-always]
 *   once        the first hit fails, later hits pass        [error-once]
 *   nth:N       only the Nth hit (1-based) fails; for fault loops
 *   delay:MS    every hit sleeps MS milliseconds (at most 3600000), then
 *               passes                                      [delay-ms:MS]
 *   crash       the first hit _exit()s the process with status 86
 *   crash-nth:N the Nth hit _exit()s with status 86
 *   on          FAULT_ON(name) is true on every hit (drop / repeat a message)
 *   on-once     FAULT_ON(name) is true on the first hit only
 *
 * N and MS are plain decimal numbers. A bad spec (unknown mode, missing or
 * extra argument, not a number, more than 64 points) fails with a one-line
 * message and arms nothing.
 *
 * Points are matched by exact name; the name "*" is not special. Thread-safe.
 */
#ifndef FLOE_FAULT_H
#define FLOE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

struct err;

#define FAULT_CRASH_STATUS 86

#ifdef FLOE_FAULTS
#define FAULT_POINT(name) fault_check(name)
#define FAULT_ON(name) fault_on(name)
#else
#define FAULT_POINT(name) 0
#define FAULT_ON(name) false
#endif

/* Arms points from $FLOE_FAULTS. Returns 0, or FLOE_EBADINPUT with a message. */
int fault_init_from_env(struct err *e);
/* Adds/replaces points from a spec string (same syntax as FLOE_FAULTS). */
int fault_set(const char *spec, struct err *e);
/* Disarms every point and zeroes hit counters. */
void fault_clear(void);
/* 0, or FLOE_EFAULT when the point is armed to fail this hit. */
int fault_check(const char *name);
/* True when the point is armed with on / on-once for this hit. */
bool fault_on(const char *name);
/* How many times an armed point was hit (0 for unarmed points). */
uint64_t fault_hits(const char *name);
/* True when fault points are compiled into this build. */
bool fault_compiled_in(void);

#endif
