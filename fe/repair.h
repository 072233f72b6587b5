/*
 * repair: which replicas need work, decided from the catalog alone (the
 * server carries the tasks out over RPC and journals each outcome).
 *
 *  - PUBLISH: a lagging replica exactly one version behind is first sent
 *    the tablet's last publish again (idempotent on the backend; this
 *    finishes a publish lost with an FE crash even when no replica has the
 *    version yet); when that did not help, it is cloned.
 *  - CLONE: a lagging, bad or cloning replica on a live backend is re-made
 *    from a healthy peer: a normal replica at the tablet's version on a live
 *    backend, the cooldown replica when it qualifies (it holds the newest
 *    remote meta, and remote rowsets are cloned by meta only).
 *  - CREATE: the same, for a tablet that never had a load (version 1) and
 *    has no healthy peer: an empty tablet is created instead.
 *  - MIGRATE: a replica on a decommissioned backend gets a new replica on
 *    another backend (placement rules), one tablet at a time.
 *  - DROP: once a tablet has enough normal replicas off decommissioned
 *    backends, the one left on a decommissioned backend is dropped.
 * Tablets in `busy` (tasks in flight) are skipped.
 */
#ifndef FLOE_FE_REPAIR_H
#define FLOE_FE_REPAIR_H

#include "catalog.h"

#include <stddef.h>
#include <stdint.h>

enum repair_kind { REPAIR_CLONE, REPAIR_CREATE, REPAIR_MIGRATE, REPAIR_DROP, REPAIR_PUBLISH };

struct repair_task {
    enum repair_kind kind;
    int64_t tablet_id;
    int64_t replica_id;       /* CLONE/CREATE: the target; MIGRATE/DROP: the replica leaving */
    int64_t backend_id;       /* where replica_id lives (MIGRATE: the new backend) */
    int64_t new_replica_id;   /* MIGRATE: id for the new replica (assigned when journaled) */
    int64_t src_replica_id;   /* CLONE/MIGRATE */
    int64_t src_backend_id;
    int64_t version;          /* the tablet version to reach */
    int64_t txn;              /* PUBLISH: the txn that made `version` */
};

const char *repair_kind_name(enum repair_kind k);

/* The best clone source for tablet t, or NULL. */
const struct fe_replica *repair_source(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms);

size_t repair_plan(const struct catalog *c, int64_t now_ms, const struct idmap *busy, struct repair_task *out,
                   size_t max);

#endif
