#!/usr/bin/env bash
# Fault matrix, uploader death and return: the BE holding a tablet's
# cooldown replica dies right after uploading new segments and before
# writing its meta. Past cooldown_replica_timeout_s the FE elects another
# replica under term + 1; the followers switch to it and cooling continues.
# Then the old uploader comes back: whatever it still writes under its old
# term is read by nobody, it converges to the new term, the scan never
# changes, nothing referenced goes missing and the leftovers (its old-term
# meta, its orphaned upload) are collected.
#
# REELECT_MODE=kill (default): the uploader is killed (-9) and restarted.
# REELECT_MODE=stop (default with FLOE_TEST_FULL=1): it is frozen with
# SIGSTOP and resumed with SIGCONT, so it finishes its old-term step after
# the new term exists.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="heartbeat_interval_s = 1
backend_dead_after_s = 3
cooldown_replica_timeout_s = 5
cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }

fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null &&
    fctl table create r1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 --replicas 3 \
        --policy cool2s >/dev/null
check "table with a 2 s policy" test $? -eq 0
gen 0 500 >"$T/a.csv"
check "load A" fctl load r1 "$T/a.csv"
check "A cooled on all replicas (term 1)" wait_for 60 table_cooled r1

tid=$(tablets_field r1 'r[0]["tablet"]')
old_rep=$(tablets_field r1 'r[0]["fe_cooldown_replica_id"]')
u=$(uploader_be r1)
check "uploader found (be$u, replica $old_rep)" test -n "$u"

# The uploader will stall 20 s between uploading segments and writing its meta.
be_restart "$u" "cooldown.after_upload=delay:20000"
check "uploader back with the stall armed" cluster_wait_alive 3 30
dats() { find "$CLUSTER_REMOTE/data/$tid" -name '*.dat' | wc -l; }
n0=$(dats)
gen 500 500 >"$T/b.csv"
check "load B" fctl load r1 "$T/b.csv"
sum_ab=$(scan_sum r1)
check "scan of A+B has 1000 rows" test "${sum_ab%% *}" = 1000
more_dats() { [ "$(dats)" -gt "$n0" ]; }
check "uploader uploaded B's segments (and stalls before its meta)" wait_for 30 more_dats
mode=${REELECT_MODE:-kill}
[ -z "${REELECT_MODE:-}" ] && [ "${FLOE_TEST_FULL:-0}" = 1 ] && mode=stop
if [ "$mode" = stop ]; then be_pause "$u"; else be_kill "$u"; fi
t_pause=$(date +%s)

check "FE marks the $mode BE dead" cluster_wait_alive 2 30
new_term() { tablets_true r1 "all(x['fe_cooldown_term'] >= 2 and x['fe_cooldown_replica_id'] != $old_rep for x in r)"; }
check "FE elects a new cooldown replica under term 2" wait_for 60 new_term
new_rep=$(tablets_field r1 'r[0]["fe_cooldown_replica_id"]')
new_term_v=$(tablets_field r1 'r[0]["fe_cooldown_term"]')
echo "# election after $(( $(date +%s) - t_pause )) s: replica $old_rep term 1 -> replica $new_rep term $new_term_v"
alive_cooled() {
    tablets_true r1 "all(x['cooldown_term'] == $new_term_v and x['cooldowned_version'] >= x['version'] and x['local_bytes'] == 0 for x in r if x['replica'] != $old_rep)"
}
check "cooling continues: the live replicas hold B remotely under the new term" wait_for 90 alive_cooled
newmeta=$CLUSTER_REMOTE/data/$tid/$new_rep.$new_term_v.meta
check "the new uploader wrote its own meta" test -s "$newmeta"
new_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cooldown_meta_id"])' "$newmeta")
follows_new() { tablets_true r1 "all(x['cooldown_meta_id'] == '$new_id' for x in r if x['replica'] != $old_rep)"; }
check "live replicas follow the new meta" wait_for 30 follows_new
check "scan unchanged while the old uploader is away" test "$(scan_sum r1)" = "$sum_ab"

oldmeta=$CLUSTER_REMOTE/data/$tid/$old_rep.1.meta
old_mtime=$(stat -c %Y.%N "$oldmeta" 2>/dev/null)
if [ "$mode" = stop ]; then be_resume "$u"; else be_start "$u" "" && be_wait_up "$u"; fi
check "old uploader back alive" cluster_wait_alive 3 30
# it was away while the term changed: it gets the FE's conf and accepts it
old_at_fe_term() {
    tablets_true r1 "[(x['cooldown_replica_id'], x['cooldown_term']) for x in r if x['replica'] == $old_rep] == [($new_rep, $new_term_v)] and all(x['fe_cooldown_term'] == $new_term_v for x in r)"
}
check "the returned old uploader is at the FE's conf (replica $new_rep, term $new_term_v)" wait_for 30 old_at_fe_term
# Give the returned uploader time to act on its old term (it may finish or
# redo its old-term step), then check that nobody reads what it wrote.
old_acted() { [ "$(stat -c %Y.%N "$oldmeta" 2>/dev/null)" != "$old_mtime" ]; }
if wait_for 20 old_acted; then
    echo "# the returned old uploader rewrote its term-1 meta"
else
    echo "# the returned old uploader wrote no term-1 meta within 20 s"
fi
check "live replicas still follow the new uploader's meta" follows_new
check "scan unchanged after the old uploader came back" test "$(scan_sum r1)" = "$sum_ab"
check "every referenced object exists (all replicas' metas)" remote_check r1 --quiet

# cooling keeps working under the new term
gen 1000 300 >"$T/c.csv"
check "load C under the new term" fctl load r1 "$T/c.csv"
check "C cools down on the live replicas under the new term" wait_for 90 alive_cooled
check "scan has 1300 rows" test "$(scan_sum r1 | cut -d' ' -f1)" = 1300
check "every referenced object still exists" remote_check r1 --quiet
check "all three replicas converge on the new uploader's meta" wait_for 90 table_cooled r1
check "the old term's leftovers are collected" wait_for 120 no_orphans r1
check "every referenced object exists at the end" remote_check r1 --quiet

cluster_finish
