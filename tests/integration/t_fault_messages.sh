#!/usr/bin/env bash
# Fault matrix, lost / repeated control messages and FE crashes between
# journaling and sending:
#   - every push_cooldown_conf sent twice: the repeat is refused (term not
#     higher), cooling works, terms stay 1;
#   - every cooldown_delete sent twice, the first one lost: the repeat of a
#     consumed delete_id deletes nothing, the orphan is still collected, no
#     referenced object is touched;
#   - the FE crashes after journaling a new term and before pushing it: after
#     the restart the term is not reused and the replicas get the conf;
#   - the FE crashes after journaling a delete confirmation and before
#     sending it: the next round collects the orphan, nothing referenced goes.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
# The FE starts with the pushes after each journaled conf pass suppressed
# (fe.conf.after_journal=error) and is then killed: that is a crash between
# journaling a term and pushing it.
FE_FAULTS="fe.conf.after_journal=error"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
schema="k:int64,ts:timestamp,v:double,s:string?"

# FE crash between journaling a term and pushing it
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null
check "resource and 2 s policy" test $? -eq 0
check "table c1 created" fctl table create c1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s
check "c1's term 1 is journaled" tablets_true c1 'all(x["fe_cooldown_term"] == 1 for x in r)'
# kill -9; from here on the FE repeats every push and delete and loses the first delete
fe_restart "fe.push.repeat=on,fe.delete.repeat=on,fe.delete.drop=on-once"
check "FE restarted" cluster_wait_alive 3 30
check "table c1 exists after the FE restart" bash -c '"$FLOECTL_BIN" tables | grep -qw c1'
check "c1 keeps its journaled term 1 (not reused, not lost)" \
    tablets_true c1 'all(x["fe_cooldown_term"] == 1 for x in r)'
conf_arrived() { tablets_true c1 'all(x.get("reported") and x["cooldown_term"] == x["fe_cooldown_term"] == 1 for x in r)'; }
check "every replica of c1 gets the conf after the restart" wait_for 60 conf_arrived
gen 5000 500 >"$T/c.csv"
check "load c1" fctl load c1 "$T/c.csv"
sum_c1=$(scan_sum c1)
check "c1 has 500 rows" test "${sum_c1%% *}" = 500
check "c1 cools down" wait_for 90 table_cooled c1
check "c1 scan unchanged" test "$(scan_sum c1)" = "$sum_c1"

fctl table create p1 --schema "$schema" --key k --buckets 2 --replicas 3 --policy cool2s >/dev/null
check "table p1 with a 2 s policy (FE repeats pushes and deletes)" test $? -eq 0
gen 0 1000 >"$T/a.csv"
check "load p1" fctl load p1 "$T/a.csv"
sum_p1=$(scan_sum p1)
check "repeated pushes: p1 cools down" wait_for 90 table_cooled p1
check "repeated pushes: every replica on term 1" tablets_true p1 'all(x["cooldown_term"] == 1 for x in r)'
check "p1 scan unchanged after cooling" test "$(scan_sum p1)" = "$sum_p1"

# plant_orphan TABLE NAME: an unreferenced object, older than the grace,
# under each tablet of TABLE.
plant_orphan() {
    local tid
    for tid in $(tablets_field "$1" '" ".join(str(t) for t in sorted({x["tablet"] for x in r}))'); do
        mkdir -p "$CLUSTER_REMOTE/data/$tid"
        head -c 777 /dev/urandom >"$CLUSTER_REMOTE/data/$tid/$2_0.dat"
        touch -d '-1 hour' "$CLUSTER_REMOTE/data/$tid/$2_0.dat"
    done
}
plant_orphan p1 00000000-0000-4000-8000-0000000000a1
check "lost + repeated cooldown_delete: orphans collected" wait_for 90 no_orphans p1
check "lost + repeated cooldown_delete: every referenced object exists" remote_check p1 --quiet
check "p1 scan unchanged after GC" test "$(scan_sum p1)" = "$sum_p1"

# FE crash between confirming a delete and sending it
fe_restart "fe.delete.after_confirm=crash"
check "FE back, armed to crash after confirming a delete" cluster_wait_alive 3 30
plant_orphan p1 00000000-0000-4000-8000-0000000000b2
fe_wait_exit 90
check "FE crashed after journaling a delete confirmation (exit 86)" test "$EXIT_RC" = 86
fe_start "" && fe_wait_up
check "FE restarted again" cluster_wait_alive 3 30
check "orphans collected in a later round" wait_for 90 no_orphans p1
check "every referenced object of p1 exists" remote_check p1 --quiet
check "every referenced object of c1 exists" remote_check c1 --quiet
check "p1 scan unchanged" test "$(scan_sum p1)" = "$sum_p1"
check "terms only grew (p1 still term 1, no replica above the FE)" \
    tablets_true p1 'all(x["cooldown_term"] == x["fe_cooldown_term"] == 1 for x in r)'

cluster_finish
