#!/usr/bin/env bash
# Fault matrix, a dropped table's remote prefix never leaks across restarts:
#   - the FE cannot deliver its last-replica drop (fault fe.rdrop.send=error)
#     while the tablet reports drop every replica locally;
#   - every BE is killed and restarted (what a BE remembered of the dropped
#     tablets is gone), then the FE is killed and restarted without the fault;
#   - the journaled "remote delete pending" entries survive the FE restart,
#     the FE asks a BE to delete data/{tablet}/ naming the resource, and the
#     prefix of every dropped tablet ends up empty; the table that was kept
#     keeps every referenced object and scans the same;
#   - a table dropped while one replica's BE is down keeps its prefix (an
#     upload of that replica could still land there) until the BE is back,
#     then the prefix is deleted.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
FE_FAULTS="fe.rdrop.send=error"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
schema="k:int64,ts:timestamp,v:double,s:string?"

status_field() {
    curl -fsS -m 5 "http://127.0.0.1:$FE_HTTP_PORT/status" | sed -n "s/.*\"$1\": *\([a-z0-9]*\).*/\1/p"
}

fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null
check "resource and 2 s policy" test $? -eq 0
check "table x1 (to drop) created" fctl table create x1 --schema "$schema" --key k --buckets 2 --replicas 3 --policy cool2s
check "table k1 (kept) created" fctl table create k1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s
check "table y1 (dropped with a BE down) created" fctl table create y1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s
gen 0 1000 >"$T/a.csv"
gen 5000 400 >"$T/b.csv"
check "load x1" fctl load x1 "$T/a.csv"
check "load k1" fctl load k1 "$T/b.csv"
check "load y1" fctl load y1 "$T/b.csv"
sum_k1=$(scan_sum k1)
check "x1 cools down" wait_for 90 table_cooled x1
check "k1 cools down" wait_for 90 table_cooled k1
check "y1 cools down" wait_for 90 table_cooled y1
yt=$(tablets_field y1 'r[0]["tablet"]')
xt=$(tablets_field x1 '" ".join(str(t) for t in sorted({x["tablet"] for x in r}))')
kt=$(tablets_field k1 'r[0]["tablet"]')
x_objects() { local t n=0; for t in $xt; do n=$((n + $(local_objects "data/$t"))); done; echo "$n"; }
n_x=$(x_objects)
check "x1 has remote objects ($n_x) under data/{$xt}" test "$n_x" -gt 0

# ---- the drop: reports drop every replica, the prefix delete cannot be sent ----
check "drop x1" fctl table drop x1
gone_local() {
    local i t
    for ((i = 1; i <= CLUSTER_N; i++)); do
        for t in $xt; do [ ! -e "$T/be$i/storage/meta/$t.json" ] || return 1; done
    done
}
check "every replica of x1 dropped locally" wait_for 60 gone_local
check "two remote deletes pending on the FE" test "$(status_field remote_delete_pending)" = 2
check "the prefix delete was not sent: x1's objects are still there" test "$(x_objects)" -gt 0

# ---- restarts: the BEs forget, the FE remembers (journal) ----
for ((i = 1; i <= CLUSTER_N; i++)); do be_kill "$i"; done
for ((i = 1; i <= CLUSTER_N; i++)); do be_start "$i" ""; done
for ((i = 1; i <= CLUSTER_N; i++)); do be_wait_up "$i"; done
fe_restart ""
check "FE and BEs restarted" cluster_wait_alive 3 30
prefix_empty() { [ "$(x_objects)" = 0 ]; }
check "x1's remote prefixes end up empty" wait_for 60 prefix_empty
pending_done() { [ "$(status_field remote_delete_pending)" = 0 ]; }
check "no remote delete pending any more" wait_for 30 pending_done
check "floe_fe_remote_drop_total{result=deleted} counts 2" \
    test "$(metric "$FE_HTTP_PORT" 'floe_fe_remote_drop_total{result="deleted"}')" = 2
check "k1's prefix still has its objects" test "$(local_objects "data/$kt")" -gt 0
check "every referenced object of k1 exists" remote_check k1 --quiet
check "k1 scan unchanged" test "$(scan_sum k1)" = "$sum_k1"
check "x1 is gone" bash -c '! "$FLOECTL_BIN" tables | grep -qw x1'
check "the BE deleted the prefix with the resource the FE named (it had forgotten the tablet)" \
    grep -q "dropped tablet: deleted .* remote objects on resource 'store'" "$T"/be*/log

# ---- a replica's BE is down: the prefix waits for it ----
be_stop 3
check "y1 has remote objects" test "$(local_objects "data/$yt")" -gt 0
check "drop y1 with BE 3 down" fctl table drop y1
retried() { grep -q "tablet=$yt remote delete pending: drop on backend" "$T/fe/log"; }
check "the FE retries the drop on the down BE" wait_for 30 retried
check "y1's prefix is kept while a replica may still write there" test "$(local_objects "data/$yt")" -gt 0
check "one remote delete pending" test "$(status_field remote_delete_pending)" = 1
be_start 3 "" && be_wait_up 3
y_empty() { [ "$(local_objects "data/$yt")" = 0 ]; }
check "once BE 3 is back, y1's prefix is deleted" wait_for 90 y_empty
check "no remote delete pending" wait_for 30 pending_done
check "every referenced object of k1 still exists" remote_check k1 --quiet

cluster_finish
