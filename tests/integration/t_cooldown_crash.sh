#!/usr/bin/env bash
# kill -9 at each cooldown fault point on a real cluster: for every point,
# all BEs restart with the point armed as "crash", a new load makes cold data,
# whichever BE reaches the point exits on the spot; then every BE restarts
# without faults and the cluster must converge: all replicas cooled down on
# one remote meta at the FE's cooldown term, every row exactly once, nothing
# local left. The FE runs with the harness's cooldown_replica_timeout_s, so
# an outage may also move the uploader; a replica that was down while the
# term changed must catch up (t_cooldown_failover.sh covers the change of
# uploader itself).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"


cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start"
check "resource create" fctl resource create r1 --type local --root "$CLUSTER_REMOTE"
check "policy create" fctl policy create p1 --resource r1 --cooldown-ttl 1s
check "table create" fctl table create t --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 1 --replicas 3 --policy p1
gen 0 1000 >"$T/0.csv"
check "first load" fctl load t "$T/0.csv"

converged() {
    tablets_true t 'len(r) == 3 and len({x["cooldown_meta_id"] for x in r}) == 1 and all(x.get("cooldowned_version", -1) >= x.get("version", 0) and x.get("local_bytes", 1) == 0 and x["cooldown_term"] == x["fe_cooldown_term"] for x in r)'
}
check "cooled down" wait_for 90 converged
rows=1000
for point in cooldown.upload cooldown.after_upload cooldown.meta_write cooldown.local_swap cooldown.after_swap \
             cooldown.follow cooldown.follow.after_swap file.delete; do
    for i in 1 2 3; do be_restart "$i" "$point=crash"; done
    cluster_wait_alive 3 60 || { fail "$point: backends up with the point armed"; continue; }
    gen "$rows" 1000 >"$T/$point.csv"
    # a load may fail while a BE crashes; what was published must still be there once
    fctl load t "$T/$point.csv" >/dev/null 2>&1 && rows=$((rows + 1000))
    crashed() { local i; for i in 1 2 3; do be_alive "$i" || return 0; done; return 1; }
    check "$point: a BE exited at the point" wait_for 60 crashed
    for i in 1 2 3; do be_restart "$i" ""; done
    check "$point: backends back" cluster_wait_alive 3 60
    check "$point: converged again" wait_for 120 converged
    check "$point: every row once ($rows)" \
        test "$(fctl scan t --columns k --format csv | grep -c '^[0-9]')" -eq "$rows"
done

cluster_finish
