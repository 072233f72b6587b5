#!/usr/bin/env bash
# Fault matrix, a new uploader that does not line up with the old uploader's
# meta. Two cases, each on its own cluster (LAGGING_CASE=misaligned|lagging
# runs one):
#
# misaligned: the followers compact three young rowsets [2],[3],[4] into one
#   while the uploader (no compaction) keeps them apart. The uploader cools
#   [2],[3] (its meta ends at 3, inside the followers' rowset) and is killed
#   before [4] turns cold. The FE elects a follower under term 2: it cannot
#   adopt the term-1 meta, so it re-cuts it at its own rowset boundary, keeps
#   [2..4] local, publishes its meta and cools [2..4] itself. The old
#   uploader comes back holding term 1's [2],[3] remotely and follows the
#   new meta. Scans never change, nothing referenced goes missing, term 1's
#   [2],[3] and meta are collected through the delete handshake.
#
# lagging: both followers are kept from following (cooldown.follow fault) while
#   the uploader cools more data, then the uploader is killed. The new
#   uploader, behind the old uploader's newest meta, adopts it in full
#   before publishing; nothing is lost, everyone converges, orphans go.
case "${LAGGING_CASE:-all}" in
all)
    rc=0
    for c in misaligned lagging; do LAGGING_CASE=$c bash "$0" || rc=1; done
    exit $rc
    ;;
misaligned | lagging) ;;
*) echo "t_fault_lagging.sh: unknown LAGGING_CASE '$LAGGING_CASE' (misaligned, lagging)" >&2; exit 2 ;;
esac
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="heartbeat_interval_s = 1
backend_dead_after_s = 3
cooldown_replica_timeout_s = 5
cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_interval_s = 1
cumulative_min_rowsets = 3"
[ "$LAGGING_CASE" = lagging ] && CLUSTER_BE_CONF+="
compaction_enabled = false"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
c=$LAGGING_CASE
t_start=$(date +%s)

ttl=12
[ "$c" = lagging ] && ttl=2
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool --resource store --cooldown-ttl ${ttl}s >/dev/null &&
    fctl table create g1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 --replicas 3 \
        --policy cool >/dev/null
check "$c: table with a ${ttl} s policy" test $? -eq 0
check "$c: conf on every replica" wait_for 30 tablets_true g1 'all(x.get("reported") and x["cooldown_term"] >= 1 for x in r)'
tid=$(tablets_field g1 'r[0]["tablet"]')
old_rep=$(tablets_field g1 'r[0]["fe_cooldown_replica_id"]')
u=$(uploader_be g1)
check "$c: uploader found (be$u, replica $old_rep)" test -n "$u"

# meta_end FILE: cooldowned_version of a remote meta file (-2 when unreadable)
meta_end() {
    python3 -c '
import json, sys
try:
    print(json.load(open(sys.argv[1]))["cooldowned_version"])
except Exception:
    print(-2)' "$1"
}
oldmeta=$CLUSTER_REMOTE/data/$tid/$old_rep.1.meta
new_term() { tablets_true g1 "all(x['fe_cooldown_term'] >= 2 and x['fe_cooldown_replica_id'] != $old_rep for x in r)"; }
alive_cooled() {
    tablets_true g1 "all(x['cooldown_term'] >= 2 and x['cooldowned_version'] >= x['version'] and x['local_bytes'] == 0 for x in r if x['replica'] != $old_rep)"
}

if [ "$c" = misaligned ]; then
    BE_CONF_EXTRA[$u]="compaction_enabled = false"
    cluster_write_confs
    be_restart "$u"
    check "$c: uploader be$u restarted without compaction" cluster_wait_alive 3 30
    # the initial rowset [0,1] must be remote everywhere first, or the followers'
    # compaction merges it with [2],[3] before v4 arrives (then they line up at 3)
    check "$c: [0,1] cooled on every replica" wait_for 40 tablets_true g1 'all(x["cooldowned_version"] >= 1 for x in r)'
    gen 0 400 >"$T/v2.csv"; gen 400 400 >"$T/v3.csv"; gen 800 400 >"$T/v4.csv"
    check "$c: load v2" fctl load g1 "$T/v2.csv"
    check "$c: load v3" fctl load g1 "$T/v3.csv"
    t0=$(date +%s)
    # v4 arrives 6 s later: [2],[3] turn cold 6 s before [4] does
    while [ $(( $(date +%s) - t0 )) -lt 6 ]; do sleep 0.2; done
    check "$c: load v4" fctl load g1 "$T/v4.csv"
    sum0=$(scan_sum g1)
    check "$c: scan has 1200 rows" test "${sum0%% *}" = 1200
    spans() { python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if any(r["start"] <= 3 and r["end"] >= 4 for r in m["rowsets"]) else 1)' "$T/be$1/storage/meta/$tid.json"; }
    fols=()
    for ((i = 1; i <= 3; i++)); do [ "$i" != "$u" ] && fols+=("$i"); done
    both_span() { spans "${fols[0]}" && spans "${fols[1]}"; }
    check "$c: followers compacted [2..4] into one rowset before they turned cold" wait_for 10 both_span
    # freeze the old uploader the moment its meta reaches 3 (before [4] turns cold), then kill it
    at3() { [ "$(meta_end "$oldmeta")" -ge 3 ] && be_pause "$u"; }
    check "$c: old uploader cools [2],[3]" wait_for 40 at3
    old_end=$(meta_end "$oldmeta")
    check "$c: old uploader stopped while its meta ends at 3 (inside the followers' [2..4]), got $old_end" \
        test "$old_end" = 3
    be_kill "$u"
else
    gen 0 500 >"$T/a.csv"
    check "$c: load A" fctl load g1 "$T/a.csv"
    check "$c: A cooled on all replicas (term 1)" wait_for 60 table_cooled g1
    fols=()
    for ((i = 1; i <= 3; i++)); do [ "$i" != "$u" ] && fols+=("$i"); done
    for f in "${fols[@]}"; do be_restart "$f" "cooldown.follow=error"; done
    check "$c: followers restarted unable to follow" cluster_wait_alive 3 30
    a_end=$(meta_end "$oldmeta")
    for n in 1 2 3; do
        gen $((500 * n)) 300 >"$T/b$n.csv"
        check "$c: load B$n" fctl load g1 "$T/b$n.csv"
    done
    sum0=$(scan_sum g1)
    check "$c: scan has 1400 rows" test "${sum0%% *}" = 1400
    v_now=$(tablets_field g1 'max(x["version"] for x in r)')
    upl_all() { [ "$(meta_end "$oldmeta")" -ge "$v_now" ]; }
    check "$c: old uploader cools B1..B3 (meta past $a_end)" wait_for 40 upl_all
    behind() {
        tablets_true g1 "all(x['cooldowned_version'] == $a_end and x['local_bytes'] > 0 for x in r if x['replica'] != $old_rep)"
    }
    check "$c: followers are behind the old uploader's meta (still at $a_end)" behind
    check "$c: every object the lagging followers reference exists" remote_check g1 --quiet
    be_kill "$u"
fi
t_kill=$(date +%s)

check "$c: FE marks the killed BE dead" cluster_wait_alive 2 30
check "$c: FE elects a new cooldown replica under term 2" wait_for 60 new_term
new_rep=$(tablets_field g1 'r[0]["fe_cooldown_replica_id"]')
nu=$(uploader_be g1)
echo "# $c: election after $(( $(date +%s) - t_kill )) s: replica $old_rep -> replica $new_rep (be$nu)"
newmeta=$CLUSTER_REMOTE/data/$tid/$new_rep.2.meta
published() { [ -s "$newmeta" ]; }
check "$c: the new uploader publishes its own meta for term 2" wait_for 30 published
recuts=$(metric "${BE_HTTP_PORT[$nu]}" floe_cooldown_recuts_total)
if [ "$c" = misaligned ]; then
    check "$c: the new uploader re-cut the term-1 meta (floe_cooldown_recuts_total=$recuts)" test "$recuts" -ge 1
else
    check "$c: the new uploader adopted the term-1 meta without a re-cut (recuts=$recuts)" test "$recuts" = 0
    check "$c: its term-2 meta starts from the old uploader's newest (ends >= $v_now)" \
        test "$(meta_end "$newmeta")" -ge "$v_now"
    # the other follower still cannot follow: let it
    for f in "${fols[@]}"; do [ "$f" != "$nu" ] && be_restart "$f" ""; done
    check "$c: the other follower back without the fault" cluster_wait_alive 2 30
fi
check "$c: cooling continues: the live replicas hold everything remotely under term 2" wait_for 60 alive_cooled
check "$c: scan unchanged under the new term" test "$(scan_sum g1)" = "$sum0"
check "$c: every referenced object exists (all replicas' metas)" remote_check g1 --quiet

be_start "$u" "" && be_wait_up "$u"
check "$c: old uploader back alive" cluster_wait_alive 3 30
check "$c: all replicas converge on the new uploader's meta" wait_for 60 table_cooled g1
follows_new() {
    local id
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cooldown_meta_id"])' "$newmeta") || return 1
    tablets_true g1 "all(x['cooldown_meta_id'] == '$id' and x['cooldown_term'] >= 2 for x in r)"
}
check "$c: every replica follows the term-2 meta" wait_for 30 follows_new
check "$c: scan unchanged after convergence" test "$(scan_sum g1)" = "$sum0"
check "$c: the old term's leftovers are collected through the handshake" wait_for 60 no_orphans g1
check "$c: every referenced object exists at the end" remote_check g1 --quiet
echo "# $c: $(( $(date +%s) - t_start )) s after the cluster started"

cluster_finish
