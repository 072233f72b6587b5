#!/usr/bin/env bash
# Cooldown end to end on a real cluster (FE + 3 BEs on loopback) with the
# embedded local object store: data cools down, exactly one replica per
# tablet uploads (one writer in the remote metas), followers drop their
# local files, scans return the same rows before and after cooling, a
# kill -9 of the uploader at a cooldown fault point loses nothing and
# leaves no reference to a missing object, and remote GC removes orphans
# only through the handshake, never a referenced object.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"


cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start"

check "resource create" fctl resource create r1 --type local --root "$CLUSTER_REMOTE"
check "policy create" fctl policy create p1 --resource r1 --cooldown-ttl 1s
check "table create with policy" fctl table create t --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 2 --replicas 3 --policy p1
gen 0 4000 >"$T/a.csv"
gen 4000 3000 >"$T/b.csv"
check "load a" fctl load t "$T/a.csv"
check "load b" fctl load t "$T/b.csv"
sum_hot=$(scan_sum t)
check "hot scan" test -n "$sum_hot"
# 2 loads x 2 tablets x 3 replicas: every replica counts its commit and publish once
be_sum() { local i s=0; for i in 1 2 3; do s=$((s + $(metric_sum "${BE_HTTP_PORT[$i]}" "$@"))); done; echo "$s"; }
check "BE metrics count 12 txns committed" test "$(be_sum floe_be_txns_total 'result="committed"')" -eq 12
check "BE metrics count 12 txns published" test "$(be_sum floe_be_txns_total 'result="published"')" -eq 12

# every replica follows a remote meta that covers all published versions, with no local bytes left
cooled() {
    tablets_true t 'len(r) == 6 and all(x.get("cooldowned_version", -1) >= x.get("version", 0) and x.get("local_bytes", 1) == 0 for x in r)'
}
check "all replicas cooled down" wait_for 90 cooled
check "replicas of a tablet follow the same remote meta" \
    tablets_true t 'all(len({y["cooldown_meta_id"] for y in r if y["tablet"] == x["tablet"]}) == 1 for x in r)'
check "scan after cooling returns the same rows" test "$(scan_sum t)" = "$sum_hot"
# tablet gauges (refreshed at every report): 2 uploaders, 4 followers, nothing local, some remote
gauges_cooled() {
    [ "$(be_sum floe_be_tablets 'cooldown_state="uploader"')" -eq 2 ] &&
        [ "$(be_sum floe_be_tablets 'cooldown_state="follower"')" -eq 4 ] &&
        [ "$(be_sum floe_be_tablets_cooled)" -eq 6 ] &&
        [ "$(be_sum floe_be_tablet_local_bytes)" -eq 0 ] && [ "$(be_sum floe_be_tablet_remote_bytes)" -gt 0 ]
}
check "BE tablet gauges: 2 uploaders, 4 followers, all cooled, 0 local bytes" wait_for 30 gauges_cooled

# exactly one writer per tablet: the metas of each tablet are all from one replica
one_writer() {
    python3 - "$CLUSTER_REMOTE" <<'EOF'
import os, re, sys, collections
root = os.path.join(sys.argv[1], "data")
w = collections.defaultdict(set)
for t in os.listdir(root):
    for f in os.listdir(os.path.join(root, t)):
        m = re.match(r"^(\d+)\.(\d+)\.meta$", f)
        if m:
            w[t].add(m.group(1))
bad = {t: s for t, s in w.items() if len(s) != 1}
print("writers per tablet:", dict(w), file=sys.stderr)
sys.exit(0 if w and not bad else 1)
EOF
}
check "exactly one replica per tablet wrote metas" one_writer
up_total=0
for i in 1 2 3; do
    n=$(metric "${BE_HTTP_PORT[$i]}" floe_cooldown_uploaded_objects_total)
    up_total=$((up_total + ${n%.*}))
done
check "segment objects were uploaded" test "$up_total" -gt 0

# new data after cooling cools down too; a kill -9 of the uploader between meta write and local swap loses nothing
gen 7000 2000 >"$T/c.csv"
for i in 1 2 3; do be_restart "$i" "cooldown.after_meta_write=crash"; done
check "backends alive with the crash point armed" cluster_wait_alive 3 60
check "load c" fctl load t "$T/c.csv"
crashed() { local i n=0; for i in 1 2 3; do be_alive "$i" || n=$((n + 1)); done; [ $n -ge 1 ]; }
check "an uploader crashed at cooldown.after_meta_write" wait_for 60 crashed
for i in 1 2 3; do be_alive "$i" || { be_start "$i" "" && be_wait_up "$i"; }; done
for i in 1 2 3; do be_restart "$i" ""; done  # disarm the crash point
check "backends alive after the crash" cluster_wait_alive 3 60
check "all replicas cooled down after the crash" wait_for 120 cooled
gen 0 9000 >"$T/all.csv"
check "scan after the crash has every row once" test "$(fctl scan t --columns k --format csv | grep -c '^[0-9]')" -eq 9000

# remote GC: an orphan object is removed through the handshake; referenced objects stay
tdir=$(ls "$CLUSTER_REMOTE/data" | head -1)
orphan="$CLUSTER_REMOTE/data/$tdir/00000000-0000-4000-8000-000000000000_0.dat"
echo orphan >"$orphan"
touch -d '-1 hour' "$orphan"
gone() { [ ! -e "$orphan" ]; }
check "orphan object removed by remote GC" wait_for 90 gone
deleted=0
for i in 1 2 3; do
    n=$(metric "${BE_HTTP_PORT[$i]}" floe_remote_gc_deleted_total)
    deleted=$((deleted + ${n%.*}))
done
check "gc deletions are counted" test "$deleted" -gt 0
check "scan after GC has every row once" test "$(fctl scan t --columns k --format csv | grep -c '^[0-9]')" -eq 9000
sum_cold=$(scan_sum t)
for i in 1 2 3; do be_restart "$i"; done
check "backends alive after restarts" cluster_wait_alive 3 60
check "same rows after restarting every BE (remote reads after restart)" test "$(scan_sum t)" = "$sum_cold"

cluster_finish
