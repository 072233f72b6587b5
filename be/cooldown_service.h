/*
 * cooldown_service: cooldown's side of the BackendService (hooks for
 * push_cooldown_conf, cooldown_delete, cold compaction, tablet-info fields
 * and resources arriving with create_tablet / clone) and the BE's resource
 * file.
 *
 * Resources pushed by the FE are kept in {storage_root}/resources.json so a
 * restarted BE can read its remote rowsets before the FE pushes anything.
 * The file holds descriptions only: endpoint, bucket, prefix, and where
 * credentials come from (environment variable names, credentials file,
 * profile) -- never a key or secret.
 */
#ifndef FLOE_BE_COOLDOWN_SERVICE_H
#define FLOE_BE_COOLDOWN_SERVICE_H

#include "cooldown.h"
#include "service.h"

struct objstore_conf;
struct resource_registry;

struct cooldown_service {
    struct cooldown *cd;
    struct resource_registry *reg;
    char *resources_path;        /* {storage_root}/resources.json */
};

/*
 * Fills conf from a wire resource. Credentials: explicit from the named
 * environment variables when given, else the credentials file, else the
 * AWS_* environment. FLOE_ECONFIG naming the resource on bad input.
 */
int cooldown_resource_conf(const struct idl_resource *r, struct objstore_conf *conf, struct err *e);

/* Loads resources.json (missing = none) into reg. A bad file is FLOE_ECORRUPT naming it. */
int cooldown_service_init(struct cooldown_service *cs, struct cooldown *cd, struct resource_registry *reg,
                          const char *storage_root, struct err *e);
void cooldown_service_release(struct cooldown_service *cs);
/* Registers (and persists) a resource pushed by the FE. */
int cooldown_service_put_resource(struct cooldown_service *cs, const struct idl_resource *r, struct err *e);
/* The hooks to put into be_service_opts (ctx = cs). */
void cooldown_service_hooks(struct cooldown_service *cs, struct be_service_hooks *ret);

#endif
