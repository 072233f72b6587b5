/*
 * floe-be: the backend (tablet server) process. Wires the engine, the
 * BackendService RPC server, the HTTP endpoints and the FE client together.
 * Configuration comes from one be.conf file (table below; --help-config).
 */
#define LOG_MODULE "be"
#include "auth.h"
#include "conf.h"
#include "cooldown.h"
#include "cooldown_service.h"
#include "engine.h"
#include "err.h"
#include "fault.h"
#include "fe_client.h"
#include "file_cache.h"
#include "fsutil.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "objstore.h"
#include "remote_meta.h"
#include "resource.h"
#include "rpc.h"
#include "service.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct be_conf {
    char *fe_address;
    char *host;
    int64_t rpc_port;
    int64_t http_port;
    char *storage_root;
    char *cluster_token_file;
    int64_t report_interval_s;
    int64_t cooldown_check_interval_s;
    int64_t remote_gc_interval_s;
    int64_t remote_gc_grace_s;
    char *file_cache_dir;
    int64_t file_cache_capacity_mb;
    int64_t file_cache_block_kb;
    int64_t workers;
    int64_t rpc_workers;
    bool compaction_enabled;
    int64_t compaction_threads;
    int64_t compaction_interval_s;
    int64_t cumulative_min_rowsets;
    int64_t cumulative_max_rowsets;
    int64_t cumulative_max_rowset_bytes;
    int64_t base_min_rowsets;
    int64_t base_size_ratio_pct;
    int64_t stale_rowset_keep_s;
    int64_t txn_timeout_s;
    char *log_level;
    char *log_file;
};

#define F(x) offsetof(struct be_conf, x)
static const struct conf_entry be_conf_table[] = {
    { "fe_address", CONF_STRING, 0, 0, "", "FE master address host:port (several: comma-separated); empty = run without an FE", F(fe_address) },
    { "host", CONF_STRING, 0, 0, "127.0.0.1", "address the FE and peers reach this BE at", F(host) },
    { "rpc_port", CONF_PORT, 0, 65535, "9060", "BackendService RPC port (0 = any free port)", F(rpc_port) },
    { "http_port", CONF_PORT, 0, 65535, "8040", "HTTP port for /metrics and /health (0 = any free port)", F(http_port) },
    { "storage_root", CONF_STRING, 0, 0, NULL, "directory holding tablet metas and local segments", F(storage_root) },
    { "cluster_token_file", CONF_STRING, 0, 0, NULL, "file with the cluster token (mode 0600/0400)", F(cluster_token_file) },
    { "report_interval_s", CONF_INT, 1, 3600, "10s", "heartbeat and tablet report period", F(report_interval_s) },
    { "cooldown_check_interval_s", CONF_INT, 1, 86400, "60s", "how often tablets are checked for cold data to upload or follow", F(cooldown_check_interval_s) },
    { "remote_gc_interval_s", CONF_INT, 1, 86400, "600s", "how often the uploader lists remote objects for garbage", F(remote_gc_interval_s) },
    { "remote_gc_grace_s", CONF_INT, 0, 30 * 86400, "3600s", "retired remote objects are kept this long for running scans", F(remote_gc_grace_s) },
    { "file_cache_dir", CONF_STRING, 0, 0, "", "directory of the remote-read block cache; empty = {storage_root}/file_cache", F(file_cache_dir) },
    { "file_cache_capacity_mb", CONF_INT, 1, 1 << 30, "10240", "file cache capacity in MiB", F(file_cache_capacity_mb) },
    { "file_cache_block_kb", CONF_INT, 64, 65536, "1024", "file cache block size in KiB", F(file_cache_block_kb) },
    { "workers", CONF_INT, 1, 256, "4", "tablet worker threads (every tablet change runs on its worker)", F(workers) },
    { "rpc_workers", CONF_INT, 1, 1024, "8", "RPC handler threads", F(rpc_workers) },
    { "compaction_enabled", CONF_BOOL, 0, 0, "true", "run cumulative and base compaction in the background", F(compaction_enabled) },
    { "compaction_threads", CONF_INT, 1, 64, "1", "compaction pool threads", F(compaction_threads) },
    { "compaction_interval_s", CONF_INT, 1, 3600, "5s", "how often tablets are checked for compaction", F(compaction_interval_s) },
    { "cumulative_min_rowsets", CONF_INT, 2, 10000, "5", "small consecutive rowsets that trigger a cumulative compaction", F(cumulative_min_rowsets) },
    { "cumulative_max_rowsets", CONF_INT, 2, 10000, "50", "at most this many rowsets per cumulative compaction", F(cumulative_max_rowsets) },
    { "cumulative_max_rowset_bytes", CONF_INT, 1, INT64_MAX, "64M", "a rowset up to this size counts as small", F(cumulative_max_rowset_bytes) },
    { "base_min_rowsets", CONF_INT, 2, 100000, "8", "rowsets that trigger a base compaction", F(base_min_rowsets) },
    { "base_size_ratio_pct", CONF_INT, 1, 100000, "30", "base compaction also runs when the newer rowsets reach this % of the base", F(base_size_ratio_pct) },
    { "stale_rowset_keep_s", CONF_INT, 0, 86400, "300s", "keep compacted-away local rowsets this long so scans at older versions still work (0 = delete them once no scan uses them)", F(stale_rowset_keep_s) },
    { "txn_timeout_s", CONF_INT, 0, 7 * 86400, "1h", "abort a load txn that was written or committed but neither published nor aborted for this long, and drop its files (0 = never)", F(txn_timeout_s) },
    { "log_level", CONF_STRING, 0, 0, "info", "debug, info, warn, error or off", F(log_level) },
    { "log_file", CONF_STRING, 0, 0, "", "append logs to this file; empty = stderr", F(log_file) },
    CONF_END,
};
#undef F

/* The delete_remote_prefix hook: a handle of its own on the resource as the
 * FE describes it (the BE may have forgotten the tablet and its resource). */
static int delete_remote_prefix(void *ctx, int64_t tablet_id, const struct idl_resource *res, int64_t *ret_deleted,
                                struct err *e)
{
    (void)ctx;
    struct objstore_conf conf;
    struct objstore *os = NULL;
    *ret_deleted = 0;
    int r = cooldown_resource_conf(res, &conf, e);
    if (r < 0)
        return r;
    r = objstore_open(&conf, &os, e);
    objstore_conf_release(&conf);
    if (r < 0)
        return r;
    char *pre = remote_tablet_prefix(tablet_id);
    r = resource_delete_prefix(os, pre, ret_deleted, e);
    free(pre);
    objstore_close(os);
    if (*ret_deleted > 0)
        metrics_add(metrics_counter("floe_be_dropped_prefix_objects_deleted_total",
                                    "remote objects of dropped tablets deleted on the FE's request"), *ret_deleted);
    return r;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: floe-be --config FILE [--version] [--help] [--help-config[-markdown]]\n"
            "  floe-be is floe's backend: it stores tablets on local disk and cools\n"
            "  them down to an object store under the FE master's cooldown conf.\n"
            "  --config FILE   be.conf to read (see --help-config for every key)\n"
            "  --help-config   print the configuration keys, defaults and ranges\n"
            "  --help-config-markdown   the same as a markdown table (docs/be.md)\n");
}

int main(int argc, char **argv)
{
    log_set_role("be");
    const char *conf_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("floe-be %s\n", FLOE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config") == 0) {
            conf_print_help(be_conf_table, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config-markdown") == 0) {
            conf_print_markdown(be_conf_table, stdout);
            return 0;
        }
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            conf_path = argv[++i];
            continue;
        }
        fprintf(stderr, "floe-be: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    struct err e = { 0 };
    if (fault_init_from_env(&e) < 0) {
        fprintf(stderr, "floe-be: %s\n", err_msg(&e));
        return 2;
    }
    if (!conf_path) {
        usage(stderr);
        return 2;
    }
    struct be_conf cf;
    memset(&cf, 0, sizeof(cf));
    if (conf_defaults(be_conf_table, &cf, &e) < 0 || conf_load_file(be_conf_table, &cf, conf_path, &e) < 0 ||
        conf_check_required(be_conf_table, &cf, &e) < 0) {
        fprintf(stderr, "floe-be: %s\n", err_msg(&e));
        conf_release(be_conf_table, &cf);
        return 2;
    }
    int rc = 1;
    enum log_level lvl;
    if (log_parse_level(cf.log_level, &lvl) < 0) {
        fprintf(stderr, "floe-be: %s: key 'log_level': '%s' is not debug, info, warn, error or off\n", conf_path,
                cf.log_level);
        conf_release(be_conf_table, &cf);
        return 2;
    }
    log_set_level(lvl);
    if (*cf.log_file && log_set_file(cf.log_file) < 0) {
        fprintf(stderr, "floe-be: cannot open log file %s\n", cf.log_file);
        conf_release(be_conf_table, &cf);
        return 2;
    }
    struct auth_token token;
    memset(&token, 0, sizeof(token));
    struct engine *eng = NULL;
    struct be_service *svc = NULL;
    struct rpc_server *srv = NULL;
    struct httpd *http = NULL;
    struct fe_client *fec = NULL;
    int64_t backend_id = 0;
    struct resource_registry *reg = NULL;
    struct file_cache *fcache = NULL;
    struct cooldown *cdn = NULL;
    struct cooldown_service cds;
    memset(&cds, 0, sizeof(cds));
    char *fc_dir = NULL;
    if (auth_token_load(cf.cluster_token_file, &token, &e) < 0) {
        fprintf(stderr, "floe-be: %s\n", err_msg(&e));
        rc = 2;
        goto out;
    }
    struct engine_opts eo;
    engine_opts_default(&eo);
    eo.root = cf.storage_root;
    eo.workers = (int)cf.workers;
    eo.compaction_threads = (int)cf.compaction_threads;
    eo.auto_compaction = cf.compaction_enabled;
    eo.compaction_interval_ms = cf.compaction_interval_s * 1000;
    eo.cumulative_min_rowsets = (int)cf.cumulative_min_rowsets;
    eo.cumulative_max_rowsets = (int)cf.cumulative_max_rowsets;
    eo.cumulative_max_bytes = (uint64_t)cf.cumulative_max_rowset_bytes;
    eo.base_min_rowsets = (int)cf.base_min_rowsets;
    eo.base_size_ratio_pct = (int)cf.base_size_ratio_pct;
    eo.stale_rowset_keep_ms = cf.stale_rowset_keep_s * 1000;
    eo.txn_timeout_ms = cf.txn_timeout_s * 1000;
    if (engine_open(&eo, &eng, &e) < 0) {
        fprintf(stderr, "floe-be: %s\n", err_msg(&e));
        goto out;
    }
    reg = resource_registry_new();
    fc_dir = *cf.file_cache_dir ? xstrdup(cf.file_cache_dir) : xasprintf("%s/file_cache", cf.storage_root);
    struct file_cache_opts fco = { .dir = fc_dir, .capacity_bytes = (uint64_t)cf.file_cache_capacity_mb << 20,
                                   .block_size = (uint32_t)cf.file_cache_block_kb << 10 };
    if (file_cache_open(&fco, &fcache, &e) < 0)
        goto fail;
    struct cooldown_opts cdo;
    cooldown_opts_default(&cdo);
    cdo.check_interval_ms = cf.cooldown_check_interval_s * 1000;
    cdo.gc_grace_ms = cf.remote_gc_grace_s * 1000;
    cdo.gc_interval_ms = cf.remote_gc_interval_s * 1000;
    if (cooldown_open(eng, reg, fcache, &cdo, &cdn, &e) < 0 ||
        cooldown_service_init(&cds, cdn, reg, cf.storage_root, &e) < 0)
        goto fail;
    struct be_service_opts so = { .eng = eng, .token = &token, .backend_id = &backend_id,
                                  .storage_root = cf.storage_root };
    cooldown_service_hooks(&cds, &so.hooks);
    so.hooks.delete_remote_prefix = delete_remote_prefix;
    if (be_service_new(&so, &svc, &e) < 0)
        goto fail;
    struct rpc_server_opts ro = { .name = "be", .port = (int)cf.rpc_port, .token = &token,
                                  .workers = (int)cf.rpc_workers };
    if (rpc_server_new(&ro, &srv, &e) < 0 || be_service_register(svc, srv, &e) < 0 || rpc_server_start(srv, &e) < 0)
        goto fail;
    if (httpd_start((int)cf.http_port, "0.0.0.0", &http, &e) < 0)
        goto fail;
    if (*cf.fe_address) {
        struct fe_client_opts fo = {
            .fe_address = cf.fe_address, .token = &token, .storage_root = cf.storage_root, .host = cf.host,
            .rpc_port = rpc_server_port(srv), .http_port = httpd_port(http),
            .report_interval_s = cf.report_interval_s, .svc = svc, .backend_id = &backend_id,
            .on_cooldown_confs = fe_client_apply_cooldown_confs, .ctx = &so.hooks,
        };
        if (fe_client_start(&fo, &fec, &e) < 0)
            goto fail;
    }
    log_info("floe-be %s: rpc port %d, http port %d, storage %s, fe %s", FLOE_VERSION, rpc_server_port(srv),
             httpd_port(http), cf.storage_root, *cf.fe_address ? cf.fe_address : "(none)");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int64_t last_tick = mono_now_ms();
    while (!stop_flag) {
        usleep(100 * 1000);
        if (!fec && mono_now_ms() - last_tick > 10000) {
            be_service_tick(svc);
            last_tick = mono_now_ms();
        }
    }
    log_info("stopping");
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "floe-be: %s\n", err_msg(&e));
    log_error("%s", err_msg(&e));
out:
    fe_client_stop(fec);
    rpc_server_free(srv);
    httpd_stop(http);
    be_service_free(svc);
    cooldown_close(cdn);
    cooldown_service_release(&cds);
    engine_close(eng);
    file_cache_close(fcache);
    resource_registry_free(reg);
    free(fc_dir);
    auth_token_release(&token);
    conf_release(be_conf_table, &cf);
    return rc;
}
