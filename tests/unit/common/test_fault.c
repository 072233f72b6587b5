/* Unit tests for common/fault (the runner is built with -Dfaults=true in tests). */
#include "err.h"
#include "fault.h"
#include "testutil.h"

#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds one fault_check(name) took; its result in *ret_rc. */
static int64_t timed_check(const char *name, int *ret_rc)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *ret_rc = fault_check(name);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/* Runs fn in a child and returns its wait status. */
static int in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(modes)
{
    if (!fault_compiled_in())
        return;
    struct err e = { 0 };
    fault_clear();
    ck_assert_int_eq(fault_check("x"), 0);
    ck_assert_int_eq(fault_set("a=error,b=once,c=nth:3,d=on,e=on-once,f=delay:1", &e), 0);
    ck_assert_int_eq(fault_check("a"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("a"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("b"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("b"), 0);
    ck_assert_int_eq(fault_check("c"), 0);
    ck_assert_int_eq(fault_check("c"), 0);
    ck_assert_int_eq(fault_check("c"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("c"), 0);
    ck_assert(fault_on("d") && fault_on("d"));
    ck_assert(fault_on("e") && !fault_on("e"));
    ck_assert_int_eq(fault_check("f"), 0);
    ck_assert_uint_eq(fault_hits("c"), 4);
    ck_assert_uint_eq(fault_hits("zz"), 0);
    fault_clear();
    ck_assert_int_eq(fault_check("a"), 0);
}
END_TEST

START_TEST(bad_specs)
{
    struct err e = { 0 };
    fault_clear();
    ck_assert_int_eq(fault_set("noequals", &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "expected name=mode"));
    ck_assert_int_eq(fault_set("a=explode", &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "unknown mode"));
    ck_assert_int_eq(fault_set("a=nth:0", &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fault_set("a=nth:x", &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fault_set("a=nth", &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fault_set("a=error:3", &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fault_set("=error", &e), FLOE_EBADINPUT);
    /* a bad spec arms nothing, not even its good parts */
    ck_assert_int_eq(fault_set("good=error,bad=nope", &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fault_check("good"), 0);
}
END_TEST

START_TEST(crash_exits_with_status)
{
    if (!fault_compiled_in())
        return;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fault_set("boom=crash-nth:2", NULL);
        fault_check("boom");
        fault_check("boom");
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), FAULT_CRASH_STATUS);
}
END_TEST

START_TEST(delay_takes_at_least_its_time)
{
    if (!fault_compiled_in())
        return;
    struct err e = { 0 };
    fault_clear();
    ck_assert_int_eq(fault_set("slow=delay:50,slow2=delay-ms:50,quick=delay:0", &e), 0);
    int rc = 1;
    int64_t ms = timed_check("slow", &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(ms >= 50, "delay:50 took %lld ms", (long long)ms);
    ck_assert_msg(ms < 5000, "delay:50 took %lld ms", (long long)ms);
    rc = 1;
    ms = timed_check("slow2", &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(ms >= 50 && ms < 5000, "delay-ms:50 took %lld ms", (long long)ms);
    /* every hit sleeps, not only the first */
    ms = timed_check("slow2", &rc);
    ck_assert_msg(ms >= 50, "second hit of delay-ms:50 took %lld ms", (long long)ms);
    ck_assert_uint_eq(fault_hits("slow2"), 2);
    ck_assert_int_eq(fault_check("quick"), 0);
    /* an unarmed point costs nothing measurable */
    int64_t t0 = mono_ms();
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(fault_check("not-armed"), 0);
    ck_assert_int_lt(mono_ms() - t0, 1000);
    fault_clear();
}
END_TEST

START_TEST(aliases_behave_like_their_modes)
{
    if (!fault_compiled_in())
        return;
    struct err e = { 0 };
    fault_clear();
    ck_assert_msg(fault_set("a1=error-always,a2=error,o1=error-once,o2=once", &e) == 0, "%s",
                  err_msg(&e));
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fault_check("a1"), FLOE_EFAULT);
        ck_assert_int_eq(fault_check("a2"), FLOE_EFAULT);
    }
    ck_assert_int_eq(fault_check("o1"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("o2"), FLOE_EFAULT);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fault_check("o1"), 0);
        ck_assert_int_eq(fault_check("o2"), 0);
    }
    ck_assert_uint_eq(fault_hits("a1"), 3);
    ck_assert_uint_eq(fault_hits("o1"), 4);
    /* an alias replaces a point armed under the other name, and back */
    ck_assert_int_eq(fault_set("a1=error-once", &e), 0);
    ck_assert_int_eq(fault_check("a1"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("a1"), 0);
    ck_assert_int_eq(fault_set("a1=error", &e), 0);
    ck_assert_int_eq(fault_check("a1"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("a1"), FLOE_EFAULT);
    /* aliases are not FAULT_ON modes */
    ck_assert(!fault_on("a2"));
    /* through the environment as well */
    fault_clear();
    setenv("FLOE_FAULTS", "envp=error-once,envq=error-always", 1);
    ck_assert_int_eq(fault_init_from_env(&e), 0);
    unsetenv("FLOE_FAULTS");
    ck_assert_int_eq(fault_check("envp"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("envp"), 0);
    ck_assert_int_eq(fault_check("envq"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("envq"), FLOE_EFAULT);
    fault_clear();
}
END_TEST

static void child_plain_crash(void)
{
    if (fault_set("boom=crash", NULL) != 0)
        _exit(3);
    if (fault_check("other") != 0)   /* other points still pass */
        _exit(4);
    fault_check("boom");
    _exit(0);   /* not reached when the point crashes */
}

static void child_crash_on(void)
{
    if (fault_set("boom=crash", NULL) != 0)
        _exit(3);
    fault_on("boom");
    _exit(0);
}

static void child_no_crash_when_cleared(void)
{
    if (fault_set("boom=crash", NULL) != 0)
        _exit(3);
    fault_clear();
    fault_check("boom");
    _exit(0);
}

START_TEST(plain_crash_exits_with_status)
{
    if (!fault_compiled_in())
        return;
    int status = in_child(child_plain_crash);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), FAULT_CRASH_STATUS);
    status = in_child(child_crash_on);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), FAULT_CRASH_STATUS);
    /* control: the same child without the point armed exits 0 */
    status = in_child(child_no_crash_when_cleared);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* The spec fails with FLOE_EBADINPUT and a one-line message holding every
 * string in want (up to 3), and arms nothing. */
static void bad(const char *spec, const char *want1, const char *want2)
{
    struct err e = { 0 };
    fault_clear();
    ck_assert_int_eq(fault_set("keep=error", &e), 0);
    int rc = fault_set(spec, &e);
    ck_assert_msg(rc == FLOE_EBADINPUT, "'%s' gave %d (%s)", spec, rc, e.msg);
    ck_assert_msg(e.code == FLOE_EBADINPUT, "'%s': code %d", spec, e.code);
    ck_assert_msg(e.msg[0] && !strchr(e.msg, '\n'), "'%s': message '%s'", spec, e.msg);
    ck_assert_msg(strstr(e.msg, want1), "'%s': '%s' lacks '%s'", spec, e.msg, want1);
    ck_assert_msg(!want2 || strstr(e.msg, want2), "'%s': '%s' lacks '%s'", spec, e.msg, want2);
    ck_assert_int_eq(fault_check("x"), 0);
    ck_assert_int_eq(fault_check("y"), 0);
    ck_assert_int_eq(fault_check("keep"), FLOE_EFAULT);   /* earlier points untouched */
    fault_clear();
}

START_TEST(bad_specs_clear_errors)
{
    bad("x=explode", "unknown mode 'explode'", "error-once");
    bad("x=error_once", "unknown mode", "delay-ms:MS");
    bad("x=delay-ms", "mode delay-ms needs an argument", "'x'");
    bad("x=delay", "mode delay needs an argument", NULL);
    bad("x=delay-ms:", "'' is not a number", NULL);
    bad("x=delay-ms:abc", "'abc' is not a number", "'x'");
    bad("x=delay:-1", "'-1' is not a number", NULL);
    bad("x=delay: 5", "' 5' is not a number", NULL);
    bad("x=nth:+2", "'+2' is not a number", NULL);
    bad("x=nth:99999999999999999999999", "is not a number", NULL);
    bad("x=delay:3600001", "over 3600000 ms", NULL);
    bad("x=error-once:2", "mode error-once takes no argument", NULL);
    bad("x=error-always:1", "mode error-always takes no argument", NULL);
    bad("x=crash:1", "mode crash takes no argument", NULL);
    bad("x=crash-nth:0", "N starts at 1", NULL);
    bad("x=", "unknown mode ''", NULL);
    bad("y=error,x", "expected name=mode", NULL);
    bad("y=error-once,x=delay-ms:oops", "'oops' is not a number", NULL);

    /* the largest delay is accepted (not hit) */
    struct err e = { 0 };
    fault_clear();
    ck_assert_int_eq(fault_set("x=delay-ms:3600000", &e), 0);
    fault_clear();
}
END_TEST

START_TEST(full_table_arms_nothing)
{
    if (!fault_compiled_in())
        return;
    struct err e = { 0 };
    fault_clear();
    char spec[64 * 16];
    size_t off = 0;
    for (int i = 0; i < 60; i++)
        off += (size_t)snprintf(spec + off, sizeof(spec) - off, "%sp%d=error", i ? "," : "", i);
    ck_assert_int_eq(fault_set(spec, &e), 0);
    /* 4 new names fit (one repeated, one already armed) */
    ck_assert_int_eq(fault_set("n1=once,n2=once,n2=error,p0=once,n3=once,n4=once", &e), 0);
    ck_assert_int_eq(fault_check("n2"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("n2"), FLOE_EFAULT);
    /* a 65th does not, and the points before it in the spec are not armed */
    ck_assert_int_eq(fault_set("p1=once,late=error", &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "more than 64 points"), "%s", e.msg);
    ck_assert_int_eq(fault_check("late"), 0);
    ck_assert_int_eq(fault_check("p1"), FLOE_EFAULT);
    ck_assert_int_eq(fault_check("p1"), FLOE_EFAULT);   /* still error, not once */
    fault_clear();
}
END_TEST

START_TEST(env_init)
{
    struct err e = { 0 };
    fault_clear();
    setenv("FLOE_FAULTS", "p=once", 1);
    int r = fault_init_from_env(&e);
    if (fault_compiled_in()) {
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(fault_check("p"), FLOE_EFAULT);
    } else {
        ck_assert_int_eq(r, FLOE_EUNSUPPORTED);
    }
    setenv("FLOE_FAULTS", "p=bogus", 1);
    ck_assert_int_lt(fault_init_from_env(&e), 0);
    unsetenv("FLOE_FAULTS");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("fault");
    tcase_add_test(tc, modes);
    tcase_add_test(tc, bad_specs);
    tcase_add_test(tc, crash_exits_with_status);
    tcase_add_test(tc, env_init);
    tcase_add_test(tc, delay_takes_at_least_its_time);
    tcase_add_test(tc, aliases_behave_like_their_modes);
    tcase_add_test(tc, plain_crash_exits_with_status);
    tcase_add_test(tc, bad_specs_clear_errors);
    tcase_add_test(tc, full_table_arms_nothing);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
