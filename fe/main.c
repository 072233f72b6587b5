/*
 * floe-fe: the frontend (master) process. Reads fe.conf, then runs the
 * server (fe/server.h) until SIGTERM or SIGINT, and writes a checkpoint on
 * the way out.
 */
#include "conf.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: floe-fe --config FILE [--set KEY=VALUE]... [--help-config] [--version] [--help]\n"
            "  floe-fe is floe's master: catalog, journal, loads, cooldown election\n"
            "  and the remote delete handshake. --set overrides one fe.conf key.\n"
            "  --help-config lists every fe.conf key with its type, range and default.\n");
}

int main(int argc, char **argv)
{
    log_set_role("fe");
    const char *config = NULL;
    char *sets[64];
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("floe-fe %s\n", FLOE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config") == 0) {
            conf_print_help(fe_conf_table, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config-markdown") == 0) {
            conf_print_markdown(fe_conf_table, stdout);
            return 0;
        }
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            config = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            if (nsets >= 64) {
                fprintf(stderr, "floe-fe: too many --set options\n");
                return 2;
            }
            sets[nsets++] = argv[++i];
            continue;
        }
        fprintf(stderr, "floe-fe: unknown or incomplete argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    if (!config) {
        fprintf(stderr, "floe-fe: --config FILE is required (try --help)\n");
        return 2;
    }
    struct err e = { 0 };
    if (fault_init_from_env(&e) < 0) {
        fprintf(stderr, "floe-fe: %s\n", err_msg(&e));
        return 2;
    }
    struct fe_conf conf;
    if (fe_conf_load(&conf, config, sets, nsets, &e) < 0) {
        fprintf(stderr, "floe-fe: %s\n", err_msg(&e));
        fe_conf_release(&conf);
        return 2;
    }
    enum log_level lvl = LOG_INFO;
    log_parse_level(conf.log_level, &lvl);
    log_set_level(lvl);
    if (conf.log_file && *conf.log_file && log_set_file(conf.log_file) < 0) {
        fprintf(stderr, "floe-fe: log_file %s: cannot open\n", conf.log_file);
        fe_conf_release(&conf);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* threads started below inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    struct fe_server *s = NULL;
    if (fe_server_start(&conf, &s, &e) < 0) {
        fprintf(stderr, "floe-fe: %s\n", err_msg(&e));
        fe_conf_release(&conf);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: shutting down", sig);
    fe_server_stop(s);
    fe_conf_release(&conf);
    return 0;
}
