/* Unit tests for tidlc: errors are file:line:col: message, good input compiles. */
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir();
}

static void teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

static void write_file(const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

/* Runs tidlc on dir/name; returns its exit status, *out gets stderr+stdout. */
static int run_tidlc(const char *name, char **out)
{
    const char *tidlc = getenv("TIDLC");
    ck_assert_msg(tidlc && *tidlc, "TIDLC not set");
    char *cmd = xasprintf("'%s' -o '%s' '%s/%s' 2>&1", tidlc, dir, dir, name);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    struct buf b = BUF_INIT;
    char tmp[1024];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), p)) > 0)
        buf_append(&b, tmp, n);
    int st = pclose(p);
    free(cmd);
    *out = buf_detach(&b, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_error(const char *text, const char *want)
{
    char *out;
    write_file("bad.tidl", text);
    int st = run_tidlc("bad.tidl", &out);
    ck_assert_msg(st == 1, "tidlc exit %d for:\n%s\noutput: %s", st, text, out);
    char *full = xasprintf("%s/bad.tidl:%s", dir, want);
    ck_assert_msg(strstr(out, full), "expected '%s', got '%s'", full, out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "more than one line: %s", out);
    free(full);
    free(out);
}

START_TEST(syntax_errors_name_file_line_col)
{
    expect_error("namespace x\nstruct A {\n  1: i32 a\n  2 i32 b\n}\n",
                 "4:5: expected ':' after the field id, found 'i32'");
    expect_error("namespace x\nstruct A {\n  1: i32 a\n  1: i64 b\n}\n",
                 "4:3: field id 1 used twice in struct A (also by 'a')");
    expect_error("namespace x\nstruct A {\n  1: Missing m\n}\n", "3:6: unknown type 'Missing'");
    expect_error("namespace x\nstruct A { 1: i32 a = \"s\" }\n",
                 "2:23: default of i32 field a must be an integer in i32 range");
    expect_error("struct A { 1: i32 a }\n",
                 "1:1: expected 'namespace NAME' before the first definition");
    expect_error("namespace x\nstruct A {\n  1: list<list<i32>> a\n}\n",
                 "3:11: list elements cannot be lists or maps");
    expect_error("namespace x\nstruct A {\n  70000: i32 a\n}\n", "3:3: field id 70000 out of range 1..65535");
    expect_error("namespace x\nstruct A { 1: i32 a }\nservice S {\n  1: A m(1: A r, 2: A q)\n}\n",
                 "4:16: method m takes exactly one argument");
    expect_error("namespace x\nstruct A { 1: i32 a }\nservice S {\n  1: i32 m(1: A r)\n}\n",
                 "4:6: method m must return a struct");
    expect_error("namespace x\nstruct A {\n  1: B b\n}\nstruct B { 1: i32 x }\n",
                 "3:6: struct B is used by value before it is defined");
    expect_error("namespace x\nstruct A { 1: i32 a } @\n", "2:23: unexpected character '@'");
    expect_error("namespace x\n/* never closed\nstruct A {}\n", "2:1: unterminated comment");
    expect_error("namespace x\nenum E { A = 1, B = 1 }\n", "2:17: enum E: A and B both have value 1");
    expect_error("namespace x\nstruct A { 1: optional i32 a = 3 }\n",
                 "2:32: optional field A.a cannot have a default");
    expect_error("namespace x\nstruct A {\n  1: i32 a\n", "4:1: struct A is not closed with '}'");
    expect_error("namespace x\ninclude \"nope.tidl\"\n", "2:1: cannot open included file");
}
END_TEST

START_TEST(valid_file_with_include_compiles)
{
    write_file("base.tidl", "namespace b\nenum Kind { ONE = 1, TWO }\nstruct P { 1: required i64 id; 2: Kind k = TWO }\n");
    write_file("top.tidl",
               "namespace t\ninclude \"base.tidl\"\n// comment\n# comment\n"
               "struct Q { 1: list<P> ps, 2: map<string, base.P> m; 3: optional P one }\n"
               "service Svc { 1: Q get(1: P req) }\n");
    char *out;
    ck_assert_msg(run_tidlc("top.tidl", &out) == 0, "%s", out);
    free(out);
    char *h = xasprintf("%s/top_idl.h", dir);
    ck_assert_int_eq(access(h, R_OK), 0);
    FILE *f = fopen(h, "r");
    char line[512];
    int found = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "int t_svc_get(struct rpc_client *c, const struct b_p *req, struct t_q *ret"))
            found = 1;
    fclose(f);
    ck_assert(found);
    free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idl_tidlc");
    TCase *tc = tcase_create("tidlc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, syntax_errors_name_file_line_col);
    tcase_add_test(tc, valid_file_with_include_compiles);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
