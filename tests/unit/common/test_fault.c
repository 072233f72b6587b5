/* Unit tests for common/fault (the runner is built with -Dfaults=true in tests). */
#include "err.h"
#include "fault.h"
#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

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
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
