/* fe_client: registration, heartbeats and tablet reports to the FE master. */
#define LOG_MODULE "fe_client"
#include "fe_client.h"

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "frontend_idl.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

struct fe_client {
    struct fe_client_opts o;
    char *root;
    char **addrs;
    size_t naddrs, cur;
    struct rpc_client *cl;
    char node_uuid[UUID_STR_LEN];
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_mutex_t round_mu;    /* one round at a time (thread and fe_client_round) */
    bool stop;
    int64_t start_ms;
    int64_t interval_s;
    char master[256];            /* address the newest master announced (be_service_fe_master) */
    bool on_master;              /* cl is connected to master */
};

static char *identity_path(const char *root) { return xasprintf("%s/backend_id.json", root); }

int fe_client_load_identity(const char *root, int64_t *ret_id, char node_uuid[UUID_STR_LEN], struct err *e)
{
    *ret_id = 0;
    node_uuid[0] = 0;
    char *p = identity_path(root);
    struct buf b = BUF_INIT;
    json_t *j = NULL;
    int r = fs_read_file(p, &b, 1 << 16, e);
    if (r == -ENOENT) {
        r = 0;
        err_clear(e);
        goto out;
    }
    if (r < 0)
        goto out;
    const char *u;
    if ((r = json_parse(b.data ? b.data : "", b.len, &j, p, e)) < 0 || (r = json_get_i64(j, "backend_id", ret_id, p, e)) < 0 ||
        (r = json_get_str(j, "node_uuid", &u, p, e)) < 0)
        goto out;
    if (!uuid_is_valid_str(u)) {
        r = err_set(e, FLOE_ECORRUPT, "%s: node_uuid is not a uuid", p);
        goto out;
    }
    memcpy(node_uuid, u, UUID_STR_LEN);
out:
    json_decref(j);
    buf_release(&b);
    free(p);
    return r;
}

static int save_identity(const char *root, int64_t id, const char *uuid, struct err *e)
{
    char *p = identity_path(root);
    json_t *j = json_pack("{s:I, s:s}", "backend_id", (json_int_t)id, "node_uuid", uuid);
    struct buf b = BUF_INIT;
    int r = json_dump_buf(j, &b, e);
    if (r == 0)
        r = fs_write_atomic(p, b.data, b.len, e);
    buf_release(&b);
    json_decref(j);
    free(p);
    return r;
}

static int connect_addr(struct fe_client *c, const char *a, struct err *e)
{
    rpc_client_free(c->cl);
    c->cl = NULL;
    c->on_master = false;
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a)
        return err_set(e, FLOE_ECONFIG, "fe_address '%s': expected host:port", a);
    char *host = xstrndup(a, (size_t)(colon - a));
    struct rpc_client_opts co = { .host = host, .port = atoi(colon + 1), .token = c->o.token,
                                  .connect_timeout_ms = 3000, .call_timeout_ms = 30000 };
    int r = rpc_client_new(&co, &c->cl, e);
    free(host);
    return r;
}

static int connect_next(struct fe_client *c, struct err *e)
{
    const char *a = c->addrs[c->cur % c->naddrs];
    c->cur++;
    return connect_addr(c, a, e);
}

/* A master epoch from the FE's reply: a lower one than seen is a deposed
 * master (FLOE_ENOTMASTER); a higher one is recorded. */
static int check_epoch(struct fe_client *c, int64_t epoch, const char *what, struct err *e)
{
    return be_service_fence(c->o.svc, epoch, what, 0, NULL, e);
}

static int do_register(struct fe_client *c, struct err *e)
{
    struct idl_register_backend_req req;
    idl_register_backend_req_init(&req);
    tidl_set_str(&req.host, c->o.host ? c->o.host : "127.0.0.1");
    req.port = c->o.rpc_port;
    req.http_port = c->o.http_port;
    req.backend_id = __atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED);
    tidl_set_str(&req.node_uuid, c->node_uuid);
    tidl_set_str(&req.version, FLOE_VERSION);
    struct statvfs st;
    if (statvfs(c->o.storage_root, &st) == 0)
        req.disk_capacity_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
    struct idl_register_backend_reply rep;
    int r = idl_frontend_service_register_backend(c->cl, &req, &rep, e);
    idl_register_backend_req_release(&req);
    if (r < 0)
        return r;
    int64_t id = rep.backend_id;
    idl_register_backend_reply_release(&rep);
    if (id <= 0)
        return err_set(e, FLOE_EPROTO, "register: the FE assigned backend id %lld", (long long)id);
    int64_t old = __atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED);
    if (old != id) {
        if ((r = save_identity(c->o.storage_root, id, c->node_uuid, e)) < 0)
            return r;
        __atomic_store_n(c->o.backend_id, id, __ATOMIC_RELAXED);
        log_info("registered with the FE as backend %lld", (long long)id);
    }
    return 0;
}

static int do_heartbeat(struct fe_client *c, struct err *e)
{
    struct idl_heartbeat_req req;
    idl_heartbeat_req_init(&req);
    req.backend_id = __atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED);
    req.start_time_ms = c->start_ms;
    struct idl_tablet_info *tis;
    size_t n;
    be_service_tablet_infos(c->o.svc, &tis, &n);
    req.num_tablets = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        req.disk_used_bytes += tis[i].local_bytes;
        idl_tablet_info_release(&tis[i]);
    }
    free(tis);
    struct statvfs st;
    if (statvfs(c->o.storage_root, &st) == 0)
        req.disk_capacity_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
    struct idl_heartbeat_reply rep;
    int r = idl_frontend_service_heartbeat(c->cl, &req, &rep, e);
    idl_heartbeat_req_release(&req);
    if (r < 0)
        return r;
    if ((r = check_epoch(c, rep.master_epoch, "heartbeat reply", e)) < 0) {
        idl_heartbeat_reply_release(&rep);
        return r;
    }
    if (rep.report_interval_s > 0 && rep.report_interval_s <= 3600 && !c->o.report_interval_s)
        c->interval_s = rep.report_interval_s;
    idl_heartbeat_reply_release(&rep);
    return 0;
}

void fe_client_apply_cooldown_confs(void *hooks, const struct idl_cooldown_conf *confs, size_t n)
{
    const struct be_service_hooks *h = hooks;
    if (!h || !h->push_cooldown_conf || n == 0)
        return;
    struct idl_push_cooldown_conf_req req;
    struct idl_push_cooldown_conf_reply rep;
    struct err e = { 0 };
    idl_push_cooldown_conf_req_init(&req);
    idl_push_cooldown_conf_reply_init(&rep);
    for (size_t i = 0; i < n; i++) {
        struct idl_cooldown_conf *c = idl_push_cooldown_conf_req_add_confs(&req);
        c->tablet_id = confs[i].tablet_id;
        c->cooldown_replica_id = confs[i].cooldown_replica_id;
        c->cooldown_term = confs[i].cooldown_term;
    }
    if (h->push_cooldown_conf(h->ctx, &req, &rep, &e) < 0) {
        log_warn("cooldown confs from the report reply: %s", err_msg(&e));
    } else {
        for (size_t i = 0; i < rep.tablets_len; i++) {
            if (rep.tablets[i].code == 0)
                tlog_info(rep.tablets[i].tablet_id, "cooldown conf from the FE's report reply applied");
            else if (rep.tablets[i].code != FLOE_ESTALE_TERM)
                tlog_warn(rep.tablets[i].tablet_id, "cooldown conf from the FE's report reply refused: %s",
                          rep.tablets[i].message ? rep.tablets[i].message : err_str(rep.tablets[i].code));
        }
    }
    idl_push_cooldown_conf_reply_release(&rep);
    idl_push_cooldown_conf_req_release(&req);
}

/* Tablet gauges, refreshed from what each full report carries. */
enum { GS_NO_POLICY, GS_NO_CONF, GS_UPLOADER, GS_FOLLOWER, GS_BAD, GS_N };
static struct metric *g_state[GS_N], *g_local, *g_remote, *g_cooled;
static pthread_once_t gauges_once = PTHREAD_ONCE_INIT;

static void gauges_init(void)
{
    static const char *const names[GS_N] = { "no_policy", "no_conf", "uploader", "follower", "bad" };
    for (int i = 0; i < GS_N; i++) {
        char n[96];
        snprintf(n, sizeof(n), "floe_be_tablets{cooldown_state=\"%s\"}", names[i]);
        g_state[i] = metrics_gauge(n, "tablets on this BE by cooldown state (no_policy, no_conf = policy but no "
                                      "uploader elected yet, uploader, follower, bad), as of the last report");
    }
    g_local = metrics_gauge("floe_be_tablet_local_bytes", "bytes of tablet data on local disk, as of the last report");
    g_remote = metrics_gauge("floe_be_tablet_remote_bytes",
                             "bytes of tablet data in the object store, as of the last report");
    g_cooled = metrics_gauge("floe_be_tablets_cooled", "tablets with some data in the object store, as of the last report");
}

static void report_gauges(const struct idl_tablet_info *t, size_t n)
{
    int64_t count[GS_N] = { 0 }, local = 0, remote = 0, cooled = 0;
    for (size_t i = 0; i < n; i++) {
        int s;
        if (t[i].state == IDL_TABLET_STATE_BAD)
            s = GS_BAD;
        else if (!t[i].storage_policy || !*t[i].storage_policy)
            s = GS_NO_POLICY;
        else if (t[i].cooldown_replica_id == 0)
            s = GS_NO_CONF;
        else
            s = t[i].cooldown_replica_id == t[i].replica_id ? GS_UPLOADER : GS_FOLLOWER;
        count[s]++;
        local += t[i].local_bytes;
        remote += t[i].remote_bytes;
        cooled += t[i].cooldowned_version >= 0;
    }
    pthread_once(&gauges_once, gauges_init);
    for (int i = 0; i < GS_N; i++)
        metrics_set(g_state[i], count[i]);
    metrics_set(g_local, local);
    metrics_set(g_remote, remote);
    metrics_set(g_cooled, cooled);
}

static int do_report(struct fe_client *c, struct err *e)
{
    struct idl_tablet_report_req req;
    idl_tablet_report_req_init(&req);
    req.backend_id = __atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED);
    req.full = true;
    be_service_tablet_infos(c->o.svc, &req.tablets, &req.tablets_len);
    report_gauges(req.tablets, req.tablets_len);
    struct idl_tablet_report_reply rep;
    int r = idl_frontend_service_tablet_report(c->cl, &req, &rep, e);
    idl_tablet_report_req_release(&req);
    if (r < 0)
        return r;
    if ((r = check_epoch(c, rep.master_epoch, "tablet report reply", e)) < 0) {
        /* a deposed master's confs are not applied */
        idl_tablet_report_reply_release(&rep);
        return r;
    }
    if (rep.cooldown_confs_len && c->o.on_cooldown_confs)
        c->o.on_cooldown_confs(c->o.ctx, rep.cooldown_confs, rep.cooldown_confs_len);
    if (rep.unknown_tablets_len)
        log_warn("the FE does not know %zu tablets of this BE (kept until the FE drops them)", rep.unknown_tablets_len);
    idl_tablet_report_reply_release(&rep);
    return 0;
}

static int round_locked(struct fe_client *c, struct err *e);

int fe_client_round(struct fe_client *c, struct err *e)
{
    pthread_mutex_lock(&c->round_mu);
    int r = round_locked(c, e);
    pthread_mutex_unlock(&c->round_mu);
    return r;
}

static int round_with(struct fe_client *c, struct err *e)
{
    int r;
    if (__atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED) == 0 && (r = do_register(c, e)) < 0)
        return r;
    if ((r = do_heartbeat(c, e)) < 0 || (r = do_report(c, e)) < 0)
        return r;
    return 0;
}

static int round_locked(struct fe_client *c, struct err *e)
{
    int r = 0;
    /* the newest master announced itself with a ping: talk to it first */
    char m[sizeof(c->master)];
    be_service_fe_master(c->o.svc, m, sizeof(m));
    if (m[0]) {
        if (strcmp(m, c->master) != 0) {
            log_info("FE master announced at %s: heartbeats and reports go there", m);
            snprintf(c->master, sizeof(c->master), "%s", m);
            rpc_client_free(c->cl);
            c->cl = NULL;
            c->on_master = false;
        }
        if (!c->on_master && connect_addr(c, m, e) == 0)
            c->on_master = true;
        if (c->on_master) {
            if ((r = round_with(c, e)) == 0)
                return 0;
            log_debug("FE master %s: %s (trying the configured fe_address)", m, err_msg(e));
            rpc_client_free(c->cl);
            c->cl = NULL;
            c->on_master = false;
        }
    }
    for (size_t attempt = 0; attempt < c->naddrs; attempt++) {
        if (!c->cl && (r = connect_next(c, e)) < 0)
            return r;
        if (__atomic_load_n(c->o.backend_id, __ATOMIC_RELAXED) == 0 && (r = do_register(c, e)) < 0)
            goto retry;
        if ((r = do_heartbeat(c, e)) < 0 || (r = do_report(c, e)) < 0)
            goto retry;
        return 0;
    retry:
        if (r == FLOE_ECORRUPT || r == FLOE_EBADINPUT)
            return r;
        rpc_client_free(c->cl);
        c->cl = NULL;
    }
    return r;
}

static void *client_main(void *arg)
{
    struct fe_client *c = arg;
    bool was_ok = true;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->mu);
        struct err e = { 0 };
        int r = fe_client_round(c, &e);
        if (r < 0 && was_ok)
            log_warn("FE %s: %s (retrying every %llds)", c->o.fe_address, err_msg(&e), (long long)c->interval_s);
        else if (r == 0 && !was_ok)
            log_info("FE %s reachable again", c->o.fe_address);
        was_ok = r == 0;
        be_service_tick(c->o.svc);
        pthread_mutex_lock(&c->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += r < 0 && c->interval_s > 2 ? 2 : c->interval_s;
        while (!c->stop && pthread_cond_timedwait(&c->cond, &c->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int fe_client_start(const struct fe_client_opts *o, struct fe_client **ret, struct err *e)
{
    *ret = NULL;
    if (!o->fe_address || !*o->fe_address)
        return err_set(e, FLOE_ECONFIG, "fe_address is not set");
    struct fe_client *c = xcalloc(1, sizeof(*c));
    c->o = *o;
    c->interval_s = o->report_interval_s > 0 ? o->report_interval_s : 10;
    c->start_ms = fs_now_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->round_mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    for (const char *p = o->fe_address; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n) {
            c->addrs = xrealloc(c->addrs, (c->naddrs + 1) * sizeof(char *));
            c->addrs[c->naddrs++] = xstrndup(p, n);
        }
        p += n;
    }
    int r = 0;
    int64_t id;
    if (c->naddrs == 0) {
        r = err_set(e, FLOE_ECONFIG, "fe_address '%s': no address", o->fe_address);
        goto fail;
    }
    if ((r = fe_client_load_identity(o->storage_root, &id, c->node_uuid, e)) < 0)
        goto fail;
    if (!c->node_uuid[0] && (r = uuid_new_str(c->node_uuid)) < 0) {
        r = err_errno(e, -r, "uuid");
        goto fail;
    }
    if (id > 0)
        __atomic_store_n(o->backend_id, id, __ATOMIC_RELAXED);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        r = err_set(e, FLOE_EINTERNAL, "cannot start the FE client thread");
        goto fail;
    }
    c->running = true;
    *ret = c;
    return 0;
fail:
    fe_client_stop(c);
    return r;
}

void fe_client_stop(struct fe_client *c)
{
    if (!c)
        return;
    if (c->running) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    rpc_client_free(c->cl);
    for (size_t i = 0; i < c->naddrs; i++)
        free(c->addrs[i]);
    free(c->addrs);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->round_mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}
