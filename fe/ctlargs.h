/*
 * ctlargs: floectl's command line, parsed into a struct ctl_cmd without any
 * I/O, so that every bad-input case is unit-tested. Global options may come
 * before or after the command words:
 *
 *   --fe HOST:PORT      (else --config, else $FLOE_FE, else a default config, else 127.0.0.1:9020)
 *   --token-file FILE   (else --config, else $FLOE_TOKEN_FILE, else a default config)
 *   --config FILE       an fe.conf or be.conf to take cluster_token_file and the
 *                       FE address from (fe_address, or 127.0.0.1:rpc_port);
 *                       else $FLOE_CONFIG; the defaults are /etc/floe/fe.conf
 *                       and /etc/floe/be.conf when they exist
 *   --json              machine-readable output
 *
 * Each error is one line naming the argument and what was expected.
 */
#ifndef FLOE_FE_CTLARGS_H
#define FLOE_FE_CTLARGS_H

#include <stdbool.h>
#include <stdint.h>

struct err;

enum ctl_kind {
    CTL_HELP,
    CTL_VERSION,
    CTL_BACKENDS,
    CTL_BACKEND_DECOMMISSION,
    CTL_RESOURCE_CREATE,
    CTL_RESOURCE_CHECK,
    CTL_RESOURCES,
    CTL_POLICY_CREATE,
    CTL_POLICIES,
    CTL_TABLE_CREATE,
    CTL_TABLE_DROP,
    CTL_TABLES,
    CTL_LOAD,
    CTL_SCAN,
    CTL_TABLETS,
};

enum ctl_where_op { CTL_OP_EQ, CTL_OP_NE, CTL_OP_LT, CTL_OP_LE, CTL_OP_GT, CTL_OP_GE, CTL_OP_IS_NULL,
                    CTL_OP_NOT_NULL, CTL_OP_IN };

/* One predicate: column OP value(s). Values are text; the FE types them by
 * the column. A quoted 'string' loses its quotes ('' is one quote). */
struct ctl_where {
    char *column;
    enum ctl_where_op op;
    int nvalues;
    char **values;
};

#define CTL_MAX_WHERE 32

struct ctl_cmd {
    enum ctl_kind kind;
    /* global */
    char *fe_host;
    int fe_port;
    const char *token_file;   /* borrowed from argv or the environment, or cfg_token; may be NULL */
    char *cfg_token;          /* owned: read from a config file */
    bool json;
    /* command arguments, borrowed from argv unless noted */
    const char *name;
    int64_t id;
    /* resource */
    const char *type, *endpoint, *region, *bucket, *prefix, *root;
    bool path_style;
    const char *access_key_env, *secret_key_env, *credentials_file, *profile;
    /* policy */
    const char *resource;
    int64_t ttl_s, datetime_s;
    /* table */
    const char *schema, *key, *model, *policy;
    int32_t buckets, replicas;
    /* load */
    const char *file;
    bool header;
    const char *label;        /* load: makes a retry of the same load a no-op */
    int32_t chunk_mb;         /* load: the file goes in chunks of at most this many MiB (1..64, default 16) */
    /* scan */
    const char *columns;
    int nwhere;
    struct ctl_where where[CTL_MAX_WHERE];   /* owned */
    int64_t limit;                            /* -1 = none */
    bool format_json;
};

/* envs: FLOE_FE, FLOE_TOKEN_FILE and FLOE_CONFIG values (may be NULL);
 * default_configs: NULL-terminated list of config files tried last (may be NULL). */
int ctlargs_parse(int argc, char **argv, const char *env_fe, const char *env_token, const char *env_config,
                  const char *const *default_configs, struct ctl_cmd *ret, struct err *e);

/* Reads cluster_token_file and the FE address (fe_address, or rpc_port as
 * 127.0.0.1:PORT) from an fe.conf/be.conf; other keys are ignored. The
 * results are malloc'ed or NULL when absent. */
int ctlargs_read_config(const char *path, char **ret_token, char **ret_fe, struct err *e);
void ctlargs_release(struct ctl_cmd *c);

/* "host:port" → parts; FLOE_EBADINPUT naming the text. ret_host is malloc'ed. */
int ctlargs_parse_addr(const char *text, char **ret_host, int *ret_port, struct err *e);
/* One --where text into w (owned strings). */
int ctlargs_parse_where(const char *text, struct ctl_where *w, struct err *e);
void ctlargs_where_release(struct ctl_where *w);
const char *ctlargs_op_name(enum ctl_where_op op);

extern const char ctlargs_usage[];

#endif
