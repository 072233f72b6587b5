/*
 * coolconf: the FE's cooldown-conf handler (master only). For every tablet
 * of a table with a storage policy it keeps one cooldown replica (the only
 * uploader) on an alive, healthy, caught-up backend:
 *
 *  - a tablet without one gets one (election on policy attach);
 *  - the current one is replaced when its replica was dropped or is bad,
 *    its backend is decommissioned or gone, or its backend has missed
 *    heartbeats for longer than cooldown_replica_timeout;
 *  - the replacement is the most caught-up eligible replica (highest
 *    version, then highest cooldowned version, then the backend with the
 *    fewest uploads, then the lowest replica id);
 *  - the new term is above every term the FE or any replica has seen, and it
 *    is journaled before anyone is told (the tablet is then marked
 *    push_needed; the caller pushes (replica, term) to all replicas).
 * Without an eligible replica the current conf stays and the tablet is
 * counted as no_candidate.
 */
#ifndef FLOE_FE_COOLCONF_H
#define FLOE_FE_COOLCONF_H

#include "catalog.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct fe_meta;

enum coolconf_reason {
    COOLCONF_KEEP = 0,
    COOLCONF_NONE,            /* never elected */
    COOLCONF_DROPPED,         /* the replica or its backend is gone */
    COOLCONF_BAD,
    COOLCONF_DECOMMISSIONED,
    COOLCONF_TIMEOUT,         /* backend silent > cooldown_replica_timeout */
    COOLCONF_TERM_BEHIND,     /* a replica reported a term above the FE's */
};

const char *coolconf_reason_name(enum coolconf_reason r);

/* Whether tablet t (of a table with a policy) needs a new election. */
enum coolconf_reason coolconf_decide(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms);

/* True when replica r may be elected. */
bool coolconf_eligible(const struct catalog *c, const struct fe_replica *r, int64_t now_ms);

/* The best eligible replica other than exclude (0 = none), or NULL. */
const struct fe_replica *coolconf_pick(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms,
                                       int64_t exclude);

/* The term a new election of t uses: above the FE's and every reported term. */
int64_t coolconf_next_term(const struct fe_tablet *t);

struct coolconf_stats {
    int64_t checked;       /* tablets with a policy looked at */
    int64_t elected;       /* first elections */
    int64_t reelected;     /* replacements */
    int64_t no_candidate;  /* needed one, none eligible */
};

/*
 * One pass over all tablets (or only those of table_id when non-zero):
 * decides, journals every new conf in one record, applies it (marking the
 * tablets push_needed). Returns the number of elections or a negative error
 * (nothing changed then).
 */
int coolconf_pass(struct fe_meta *m, int64_t table_id, int64_t now_ms, struct coolconf_stats *st,
                  struct err *e);

/* One conf to deliver: tell the replica's backend (tablet, cooldown replica, term). */
struct coolconf_push {
    int64_t backend_id;
    int64_t tablet_id;
    int64_t cooldown_replica_id;
    int64_t term;
};

struct coolconf_push_vec {
    struct coolconf_push *v;
    size_t n, cap;
};

void coolconf_push_vec_add(struct coolconf_push_vec *pv, int64_t backend, const struct fe_tablet *t);
void coolconf_push_vec_release(struct coolconf_push_vec *pv);

/* Appends a push for every replica of every push_needed tablet and for every
 * replica marked push_pending, and clears the flags. A push that fails again
 * is marked again (coolconf_push_failed); a replica that reports a conf
 * other than the FE's also gets it back with the report's reply. */
void coolconf_collect_pushes(struct catalog *c, struct coolconf_push_vec *out);

/* A push that was not delivered (backend unreachable, or a push to it still
 * in flight): marks the replica of p->tablet_id on p->backend_id push_pending
 * so the next collect sends it again, unless the tablet's conf changed since
 * (then a newer push is on its way anyway). Returns the replicas marked. */
int coolconf_push_failed(struct catalog *c, const struct coolconf_push *p);

#endif
