#!/usr/bin/env bash
# Fault matrix, a follower misaligned by its own compaction: the followers
# compact three young rowsets [2],[3],[4] into one while the uploader (no
# compaction) keeps them apart. When [2] and [3] turn cold the uploader
# publishes a meta ending at version 3, which does not line up with the
# followers' rowset [..4]: they must refuse it and keep their local data
# (never drop rows, never hold half a rowset remotely). Once [4] is cold the
# meta ends at 4, the followers line up and adopt it. Scans never change.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = true
compaction_interval_s = 1
cumulative_min_rowsets = 3"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
ttl=12
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool --resource store --cooldown-ttl ${ttl}s >/dev/null &&
    fctl table create m1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 --replicas 3 \
        --policy cool >/dev/null
check "table with a ${ttl} s policy" test $? -eq 0
check "conf on every replica" wait_for 30 tablets_true m1 'all(x.get("reported") and x["cooldown_term"] >= 1 for x in r)'
tid=$(tablets_field m1 'r[0]["tablet"]')
u=$(uploader_be m1)
f=$(follower_be m1)
upl_rep=$(tablets_field m1 'r[0]["fe_cooldown_replica_id"]')
BE_CONF_EXTRA[$u]="compaction_enabled = false"
cluster_write_confs
be_restart "$u"
check "uploader be$u restarted without compaction" cluster_wait_alive 3 30
# the initial rowset [0,1] must be remote everywhere first, or the followers'
# compaction merges it with [2],[3] before v4 arrives
check "[0,1] cooled on every replica" wait_for 40 tablets_true m1 'all(x["cooldowned_version"] >= 1 for x in r)'

gen 0 400 >"$T/v2.csv"; gen 400 400 >"$T/v3.csv"; gen 800 400 >"$T/v4.csv"
check "load v2" fctl load m1 "$T/v2.csv"
check "load v3" fctl load m1 "$T/v3.csv"
# v4 arrives 6 s after v3 was published (the first load may wait for the
# restarted uploader), so [2] and [3] turn cold 6 s before [4] does
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt 6 ]; do sleep 0.2; done
check "load v4" fctl load m1 "$T/v4.csv"
sum0=$(scan_sum m1)
check "scan has 1200 rows" test "${sum0%% *}" = 1200

# spans I V: replica meta of BE I has one rowset covering versions 3 and 4
spans() { python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if any(r["start"] <= 3 and r["end"] >= 4 for r in m["rowsets"]) else 1)' "$T/be$1/storage/meta/$tid.json"; }
check "follower be$f compacted [2..4] into one rowset before they turned cold" wait_for 5 spans "$f"
not_spans() { ! spans "$1"; }
check "the uploader kept [3] and [4] apart" not_spans "$u"
check "the follower's compaction is counted in its metrics" \
    test "$(metric_sum "${BE_HTTP_PORT[$f]}" floe_be_compactions_total 'result="ok"')" -ge 1
check "the uploader counted no compaction" \
    test "$(metric_sum "${BE_HTTP_PORT[$u]}" floe_be_compactions_total)" -eq 0

upl_at() { tablets_true m1 "[x['cooldowned_version'] for x in r if x['replica'] == $upl_rep][0] >= $1"; }
check "uploader cools [2],[3] (meta ends at version 3)" wait_for 30 upl_at 3
fol_v=$(tablets_field m1 "[x['cooldowned_version'] for x in r if x['replica'] != $upl_rep]")
echo "# followers' cooled versions while the meta ends inside their rowset: $fol_v"
check "followers refuse the misaligned meta (their data stays local, nothing past 1 adopted)" \
    tablets_true m1 "all(x['cooldowned_version'] < 3 and x['local_bytes'] > 0 for x in r if x['replica'] != $upl_rep)"
check "scan unchanged while misaligned" test "$(scan_sum m1)" = "$sum0"
check "every referenced object exists while misaligned" remote_check m1 --quiet

check "once [4] is cold the followers line up and adopt" wait_for 60 table_cooled m1
check "scan unchanged after convergence" test "$(scan_sum m1)" = "$sum0"
check "every referenced object exists" remote_check m1 --quiet
check "orphans collected" wait_for 60 no_orphans m1

cluster_finish
