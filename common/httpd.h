/*
 * httpd: a small HTTP server (libmicrohttpd, one internal polling thread)
 * for operational endpoints: GET /metrics (Prometheus text from metrics.h),
 * GET /health (200 "ok\n") and JSON GET handlers a process registers, such
 * as a status page. It is not a data path: handlers should be quick.
 *
 * Only GET and HEAD are served (405 otherwise). Unknown paths get 404 with a
 * JSON body {"error": "..."}. A handler returning an error maps it to a
 * status: FLOE_ENOTFOUND 404, FLOE_EBADINPUT/FLOE_EBADREQ 400,
 * FLOE_EUNAVAILABLE/FLOE_ESHUTDOWN/FLOE_EBUSY 503, anything else 500; the body
 * is {"error": "<message>"}, so messages must not hold secrets.
 */
#ifndef FLOE_HTTPD_H
#define FLOE_HTTPD_H

#include <stdint.h>

struct buf;
struct err;
struct httpd;
struct httpd_req;

/*
 * Fills out (empty on entry) with a JSON document and returns 0 for a 200
 * reply, or a negative code (message in e) for an error reply. Runs on the
 * server thread; arg is the pointer given at registration.
 */
typedef int (*httpd_get_cb)(void *arg, const struct httpd_req *req, struct buf *out, struct err *e);

/*
 * Starts listening on bind_addr:port (an IPv4 or IPv6 literal; NULL means
 * 127.0.0.1). Port 0 picks a free port; httpd_port() tells which.
 * Errors name the address (e.g. port in use): -errno or FLOE_EBADINPUT.
 */
int httpd_start(int port, const char *bind_addr, struct httpd **ret, struct err *e);
/* The port actually bound. */
int httpd_port(const struct httpd *h);
/*
 * Registers fn for GET path (exact match, e.g. "/status"). A path whose
 * last character is '*' matches every path starting with what precedes it,
 * so "/tablets/" followed by '*' serves /tablets/12.
 * May be called before or after requests arrive. "/metrics" and "/health"
 * are built in. FLOE_EEXIST when the path is taken, FLOE_EBADINPUT when it
 * does not start with '/'.
 */
int httpd_add_get(struct httpd *h, const char *path, httpd_get_cb fn, void *arg, struct err *e);
/* Stops the server and frees it; in-flight requests finish first. Accepts NULL. */
void httpd_stop(struct httpd *h);

/* Request accessors, valid during the callback. */
const char *httpd_req_path(const struct httpd_req *req);
/* A query argument (?key=value, URL-decoded), or NULL when absent. */
const char *httpd_req_arg(const struct httpd_req *req, const char *key);

#endif
