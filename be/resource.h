/*
 * resource: the BE's cache of storage resources and storage policies as
 * pushed by the FE (with create_tablet, clone, or on their own).
 *
 * A resource is an open object-store handle under a name. Replacing a
 * resource opens a new handle; holders of the old one keep it until they
 * drop their reference, so a running upload or scan is never cut off.
 * Credentials come from the objstore_conf (explicit, environment or a
 * credentials file); they are never logged and never written anywhere by
 * this module.
 *
 * A policy names a resource and when a rowset is cold: its newest write
 * time + cooldown_ttl has passed, or the wall clock is past
 * cooldown_datetime (either may be unset, i.e. 0).
 *
 * Thread-safe.
 */
#ifndef FLOE_BE_RESOURCE_H
#define FLOE_BE_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct objstore;
struct objstore_conf;
struct resource_registry;

struct resource {
    int refs;                 /* atomic */
    char *name;
    struct objstore *os;
    void *exported;           /* counters last exported to the metrics (resource_export_metrics) */
};

struct storage_policy {
    char name[128];
    char resource[128];
    int64_t cooldown_ttl_s;       /* 0 = unset */
    int64_t cooldown_datetime_s;  /* unix seconds; 0 = unset */
};

struct resource_registry *resource_registry_new(void);
/* Drops the registry's references. Accepts NULL. */
void resource_registry_free(struct resource_registry *r);

/*
 * Opens conf and stores it under name, replacing an earlier resource of
 * that name. FLOE_EBADINPUT for a bad name, the objstore_open error (naming
 * the field) for a bad description; nothing changes on error.
 */
int resource_put(struct resource_registry *r, const char *name, const struct objstore_conf *conf, struct err *e);
/* Stores an already open handle (takes ownership of os). */
void resource_put_handle(struct resource_registry *r, const char *name, struct objstore *os);
/* A new reference, or NULL (FLOE_ENOTFOUND in e) when unknown. */
struct resource *resource_get(struct resource_registry *r, const char *name, struct err *e);
struct resource *resource_ref(struct resource *res);
/* Closes the handle at the last reference. Accepts NULL. */
void resource_unref(struct resource *res);

/* Adds or replaces a policy. FLOE_EBADINPUT for an empty/long name or negative times. */
int resource_put_policy(struct resource_registry *r, const struct storage_policy *p, struct err *e);
/* Copies the policy; FLOE_ENOTFOUND when unknown. */
int resource_get_policy(struct resource_registry *r, const char *name, struct storage_policy *ret, struct err *e);

/*
 * Adds what each resource's object store did since the last call to the
 * process metrics: floe_objstore_requests_total{resource,kind},
 * floe_objstore_errors_total{resource,kind}, floe_objstore_bytes_total{resource,dir}.
 */
void resource_export_metrics(struct resource_registry *r);

/*
 * Deletes every object whose key starts with prefix (list, then batched
 * deletes); *ret_deleted objects. An empty prefix is FLOE_EBADINPUT. A
 * failure leaves the objects not yet deleted in place; running it again is
 * harmless.
 */
int resource_delete_prefix(struct objstore *os, const char *prefix, int64_t *ret_deleted, struct err *e);

/* True when a rowset written last at newest_write_ms is cold at now_ms under the policy. */
bool storage_policy_is_cold(int64_t ttl_s, int64_t datetime_s, int64_t newest_write_ms, int64_t now_ms);

#endif
