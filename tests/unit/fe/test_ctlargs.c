/* Unit tests for fe/ctlargs: floectl's command line and --where parsing. */
#include "ctlargs.h"
#include "buf.h"
#include "err.h"

#include <errno.h>
#include "testutil.h"

static char *keep[256];
static int nkeep;

static int parse(struct ctl_cmd *c, struct err *e, const char *line)
{
    char *copy = strdup(line);
    char *argv[64];
    int argc = 0;
    argv[argc++] = "floectl";
    for (char *tok = copy, *next; tok && *tok && argc < 63; tok = next) {
        next = strchr(tok, '|');
        if (next)
            *next++ = '\0';
        argv[argc++] = tok;
    }
    int r = ctlargs_parse(argc, argv, NULL, NULL, NULL, NULL, c, e);
    /* argv strings are borrowed by c: keep them until teardown */
    if (nkeep < 256)
        keep[nkeep++] = copy;
    else
        free(copy);
    return r;
}

static void teardown(void)
{
    while (nkeep > 0)
        free(keep[--nkeep]);
}

START_TEST(good_commands)
{
    struct ctl_cmd c;
    struct err e = { 0 };
    ck_assert_int_eq(parse(&c, &e, "backends"), 0);
    ck_assert_int_eq(c.kind, CTL_BACKENDS);
    ck_assert_str_eq(c.fe_host, "127.0.0.1");
    ck_assert_int_eq(c.fe_port, 9020);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "--fe|10.1.2.3:7000|--json|backend|decommission|12"), 0);
    ck_assert_int_eq(c.kind, CTL_BACKEND_DECOMMISSION);
    ck_assert_int_eq(c.id, 12);
    ck_assert(c.json);
    ck_assert_str_eq(c.fe_host, "10.1.2.3");
    ck_assert_int_eq(c.fe_port, 7000);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "resource|create|s3a|--type|s3|--endpoint|http://127.0.0.1:8080|--region|"
                                   "us-east-1|--bucket|floe|--path-style|--access-key-env|AK|--secret-key-env|SK"), 0);
    ck_assert_int_eq(c.kind, CTL_RESOURCE_CREATE);
    ck_assert_str_eq(c.name, "s3a");
    ck_assert(c.path_style);
    ck_assert_str_eq(c.secret_key_env, "SK");
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "resource|create|loc|--type|local|--root|/srv/shared"), 0);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "policy|create|p|--resource|loc|--cooldown-ttl|10m"), 0);
    ck_assert_int_eq(c.ttl_s, 600);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "policy|create|p|--resource|loc|--cooldown-datetime|2026-12-01T00:00:00Z"), 0);
    ck_assert_int_eq(c.datetime_s, 1796083200);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "table|create|ev|--schema|k:int64,v:double|--key|k|--buckets|4|--replicas|"
                                   "2|--model|unique|--policy|p"), 0);
    ck_assert_int_eq(c.kind, CTL_TABLE_CREATE);
    ck_assert_int_eq(c.buckets, 4);
    ck_assert_int_eq(c.replicas, 2);
    ck_assert_str_eq(c.model, "unique");
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "load|ev|/tmp/x.csv|--header|--label|day-1"), 0);
    ck_assert_str_eq(c.label, "day-1");
    ck_assert_str_eq(c.file, "/tmp/x.csv");
    ck_assert(c.header);
    ck_assert_int_eq(c.chunk_mb, 16);          /* the default */
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "load|ev|/tmp/x.csv|--chunk-mb|1"), 0);
    ck_assert_int_eq(c.chunk_mb, 1);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "--chunk-mb|64|load|ev|/tmp/x.csv"), 0);
    ck_assert_int_eq(c.chunk_mb, 64);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "scan|ev|--columns|k,v|--where|v > 10|--where|s = 'it''s'|--limit|5|"
                                   "--format|json"), 0);
    ck_assert_int_eq(c.nwhere, 2);
    ck_assert_str_eq(c.where[0].column, "v");
    ck_assert_int_eq(c.where[0].op, CTL_OP_GT);
    ck_assert_str_eq(c.where[0].values[0], "10");
    ck_assert_str_eq(c.where[1].values[0], "it's");
    ck_assert_int_eq(c.limit, 5);
    ck_assert(c.format_json);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "tablets|ev"), 0);
    ck_assert_int_eq(c.kind, CTL_TABLETS);
    ctlargs_release(&c);
    ck_assert_int_eq(parse(&c, &e, "--help"), 0);
    ck_assert_int_eq(c.kind, CTL_HELP);
}
END_TEST

START_TEST(env_defaults)
{
    struct ctl_cmd c;
    struct err e = { 0 };
    char *argv[] = { "floectl", "tables" };
    ck_assert_int_eq(ctlargs_parse(2, argv, "[::1]:9100", "/etc/floe/token", NULL, NULL, &c, &e), 0);
    ck_assert_str_eq(c.fe_host, "::1");
    ck_assert_int_eq(c.fe_port, 9100);
    ck_assert_str_eq(c.token_file, "/etc/floe/token");
    ctlargs_release(&c);
    char *argv2[] = { "floectl", "--token-file", "/x", "tables" };
    ck_assert_int_eq(ctlargs_parse(4, argv2, NULL, "/etc/floe/token", NULL, NULL, &c, &e), 0);
    ck_assert_str_eq(c.token_file, "/x");
    ctlargs_release(&c);
    ck_assert_int_eq(ctlargs_parse(2, argv, "nohostport", NULL, NULL, NULL, &c, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, "HOST:PORT") != NULL, "%s", e.msg);
}
END_TEST

START_TEST(config_files)
{
    char *d = test_tmpdir();
    char *fe = xasprintf("%s/fe.conf", d), *be = xasprintf("%s/be.conf", d);
    FILE *f = fopen(fe, "w");
    fprintf(f, "# an fe.conf\nrpc_port = 9123\nmeta_dir = /x\ncluster_token_file = \"/etc/floe/t1\"  # comment\n");
    fclose(f);
    f = fopen(be, "w");
    fprintf(f, "fe_address = 10.0.0.5:9020, 10.0.0.6:9020\ncluster_token_file = /etc/floe/t2\nrpc_port = 9060\n");
    fclose(f);
    struct ctl_cmd c;
    struct err e = { 0 };
    char *a1[] = { "floectl", "--config", fe, "tables" };
    ck_assert_int_eq(ctlargs_parse(4, a1, "1.1.1.1:1", "/env/token", NULL, NULL, &c, &e), 0);
    ck_assert_str_eq(c.fe_host, "127.0.0.1");  /* --config beats the environment */
    ck_assert_int_eq(c.fe_port, 9123);
    ck_assert_str_eq(c.token_file, "/etc/floe/t1");
    ctlargs_release(&c);
    char *a2[] = { "floectl", "--fe", "h:1", "tables" };
    ck_assert_int_eq(ctlargs_parse(4, a2, NULL, NULL, be, NULL, &c, &e), 0);
    ck_assert_str_eq(c.fe_host, "h");            /* a flag beats $FLOE_CONFIG */
    ck_assert_str_eq(c.token_file, "/etc/floe/t2");
    ctlargs_release(&c);
    const char *defs[] = { "/nonexistent/fe.conf", be, NULL };
    char *a3[] = { "floectl", "tables" };
    ck_assert_int_eq(ctlargs_parse(2, a3, NULL, "/env/token", NULL, defs, &c, &e), 0);
    ck_assert_str_eq(c.fe_host, "10.0.0.5");     /* the first FE of fe_address */
    ck_assert_str_eq(c.token_file, "/env/token"); /* the environment beats default configs */
    ctlargs_release(&c);
    char *a4[] = { "floectl", "--config", "/nonexistent.conf", "tables" };
    ck_assert_int_eq(ctlargs_parse(4, a4, NULL, NULL, NULL, NULL, &c, &e), -ENOENT);
    ck_assert_msg(strstr(e.msg, "/nonexistent.conf") != NULL, "%s", e.msg);
    struct err fe2 = { 0 };
    fs_remove_all(d, &fe2);
    free(fe);
    free(be);
    free(d);
}
END_TEST

START_TEST(bad_input_one_line)
{
    static const struct {
        const char *line, *needle;
    } cases[] = {
        { "", "no command" },
        { "frobnicate", "unknown command 'frobnicate'" },
        { "table|explode|x", "unknown command 'table explode'" },
        { "tables|--bogus", "unknown option '--bogus'" },
        { "tables|-x", "unknown option '-x'" },
        { "backend|decommission", "takes 1 argument, got 0" },
        { "backend|decommission|abc", "backend id 'abc'" },
        { "backend|decommission|0", "backend id '0'" },
        { "tablets", "takes 1 argument" },
        { "load|t", "takes 2 arguments, got 1" },
        { "load|t|f.csv|--label", "--label needs a value" },
        { "load|t|f.csv|--chunk-mb", "--chunk-mb needs a value" },
        { "load|t|f.csv|--chunk-mb|0", "--chunk-mb '0': expected an integer in 1..64" },
        { "load|t|f.csv|--chunk-mb|65", "--chunk-mb '65'" },
        { "load|t|f.csv|--chunk-mb|2x", "--chunk-mb '2x'" },
        { "load|t|f.csv|--chunk-mb|-3", "--chunk-mb '-3'" },
        { "load|t|f.csv|--chunk-mb|1|--chunk-mb|2", "given twice" },
        { "scan|t|--chunk-mb|4", "'--chunk-mb' does not apply" },
        { "scan|t|--label|x", "'--label' does not apply" },
        { "table|create|t|--schema|k:int64", "--schema and --key are required" },
        { "table|create|t|--schema|k:int64|--key|k|--buckets|0", "--buckets '0'" },
        { "table|create|t|--schema|k:int64|--key|k|--replicas|99", "--replicas '99'" },
        { "table|create|t|--schema|k:int64|--key|k|--model|weird", "--model 'weird'" },
        { "table|create|t|--schema|k:int64|--key|k|--header", "'--header' does not apply" },
        { "table|create|t|--schema|a|--schema|b|--key|k", "given twice" },
        { "resource|create|r", "--type s3|local is required" },
        { "resource|create|r|--type|ftp", "--type 'ftp'" },
        { "resource|create|r|--type|local", "--root DIR is required" },
        { "resource|create|r|--type|s3|--endpoint|http://x", "--endpoint, --region and --bucket" },
        { "resource|create|r|--type|s3|--endpoint|http://x|--region|r|--bucket|b|--access-key-env|A",
          "go together" },
        { "policy|create|p|--resource|r", "exactly one of" },
        { "policy|create|p|--resource|r|--cooldown-ttl|10x", "unknown unit" },
        { "policy|create|p|--resource|r|--cooldown-datetime|tomorrow", "YYYY-MM-DD" },
        { "scan|t|--limit|-1", "--limit '-1'" },
        { "scan|t|--format|xml", "--format 'xml'" },
        { "scan|t|--columns|a,,b", "--columns" },
        { "scan|t|--where|v", "expected an operator" },
        { "scan|t|--where|v >", "missing value" },
        { "scan|t|--where|v = 'open", "unterminated" },
        { "scan|t|--where|v IN (1, 2", "expected ',' or ')'" },
        { "scan|t|--where|v IS MAYBE", "IS [NOT] NULL" },
        { "scan|t|--where|= 3", "column name first" },
        { "scan|t|--where|v = 'a' extra", "unexpected text" },
        { "tables|--where|v = 1", "'--where' does not apply" },
        { "--fe|host:0|tables", "port must be" },
        { "--fe", "--fe needs a value" },
        { "scan|t|--limit", "--limit needs a value" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ctl_cmd c;
        struct err e = { 0 };
        int r = parse(&c, &e, cases[i].line);
        ck_assert_msg(r == FLOE_EBADINPUT, "'%s': r=%d", cases[i].line, r);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "'%s': '%s' lacks '%s'", cases[i].line, e.msg,
                      cases[i].needle);
        ck_assert_msg(strchr(e.msg, '\n') == NULL, "'%s': message has a newline", cases[i].line);
    }
}
END_TEST

START_TEST(where_forms)
{
    struct ctl_where w;
    struct err e = { 0 };
    ck_assert_int_eq(ctlargs_parse_where("ts >= 2026-01-01", &w, &e), 0);
    ck_assert_int_eq(w.op, CTL_OP_GE);
    ck_assert_str_eq(w.values[0], "2026-01-01");
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("s is not null", &w, &e), 0);
    ck_assert_int_eq(w.op, CTL_OP_NOT_NULL);
    ck_assert_int_eq(w.nvalues, 0);
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("s IS NULL", &w, &e), 0);
    ck_assert_int_eq(w.op, CTL_OP_IS_NULL);
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("k IN (1, 2,'x y')", &w, &e), 0);
    ck_assert_int_eq(w.op, CTL_OP_IN);
    ck_assert_int_eq(w.nvalues, 3);
    ck_assert_str_eq(w.values[2], "x y");
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("v!=-1.5", &w, &e), 0);
    ck_assert_int_eq(w.op, CTL_OP_NE);
    ck_assert_str_eq(w.values[0], "-1.5");
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("ts >= 2026-01-01 00:00:58  ", &w, &e), 0);
    ck_assert_str_eq(w.values[0], "2026-01-01 00:00:58");
    ctlargs_where_release(&w);
    ck_assert_int_eq(ctlargs_parse_where("s = ''", &w, &e), 0);
    ck_assert_str_eq(w.values[0], "");
    ctlargs_where_release(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_ctlargs");
    TCase *tc = tcase_create("ctlargs");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, good_commands);
    tcase_add_test(tc, env_defaults);
    tcase_add_test(tc, bad_input_one_line);
    tcase_add_test(tc, config_files);
    tcase_add_test(tc, where_forms);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
