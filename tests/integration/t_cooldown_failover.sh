#!/usr/bin/env bash
# Cooldown under a change of uploader: the cooldown replica's BE stops
# (SIGSTOP) past cooldown_replica_timeout_s, the FE elects another replica
# under a higher term, the new uploader adopts what the old one published
# and carries on; when the old BE comes back its stale term lets it write
# nothing the followers read (no meta of a term >= the new one from it),
# every replica ends on the new uploader's meta, and no row is lost or
# duplicated. Finally dropping the table deletes the remote prefix.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

# be_index BACKEND_ID: the harness index (1..N) of the BE the FE knows by that id (matched by RPC port)
be_index() {
    local port i
    port=$(fctl --json backends | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    if b["backend_id"] == int(sys.argv[1]):
        print(b["port"])' "$1")
    for ((i = 1; i <= CLUSTER_N; i++)); do [ "${BE_RPC_PORT[$i]}" = "$port" ] && { echo "$i"; return 0; }; done
    return 1
}
CLUSTER_FE_CONF="cooldown_replica_timeout_s = 8"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start"

check "resource create" fctl resource create r1 --type local --root "$CLUSTER_REMOTE"
check "policy create" fctl policy create p1 --resource r1 --cooldown-ttl 1s
check "table create" fctl table create t --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 1 --replicas 3 --policy p1
gen 0 3000 >"$T/a.csv"
check "load a" fctl load t "$T/a.csv"
cooled_all() {
    tablets_true t 'len(r) == 3 and all(x.get("cooldowned_version", -1) >= x.get("version", 0) and x.get("local_bytes", 1) == 0 for x in r)'
}
check "cooled down" wait_for 90 cooled_all
term1=$(tablets_field t 'r[0]["cooldown_term"]')
bid1=$(tablets_field t '[x["backend"] for x in r if x["replica"] == x["cooldown_replica_id"]][0]')
up1=$(be_index "$bid1")
rep1=$(tablets_field t '[x["replica"] for x in r if x["replica"] == x["cooldown_replica_id"]][0]')
tid=$(tablets_field t 'r[0]["tablet"]')
check "an uploader was elected (backend id $bid1 = be$up1, term $term1)" test -n "$up1"

# stop the uploader's BE until the FE moves the cooldown replica elsewhere
be_pause "$up1"
check "paused uploader seen dead" cluster_wait_alive 2 60
new_term() { tablets_true t "all(x['cooldown_term'] > $term1 and x['cooldown_replica_id'] != $rep1 for x in r if x['backend'] != $bid1)"; }
# the stopped BE must not hold up the push of the new term to the live ones
check "a new cooldown replica under a higher term" wait_for 60 new_term
fe_term=$(tablets_field t 'r[0]["fe_cooldown_term"]')
stopped_behind() { tablets_true t "[x['cooldown_term'] for x in r if x['backend'] == $bid1] == [$term1]"; }
check "the stopped BE's replica missed the change (FE term $fe_term, it reports $term1)" stopped_behind
gen 3000 2000 >"$T/b.csv"
check "load b while the old uploader is stopped" fctl load t "$T/b.csv"
cooled_alive() {
    tablets_true t "all(x.get('cooldowned_version', -1) >= x.get('version', 0) and x.get('local_bytes', 1) == 0 for x in r if x['backend'] != $bid1)"
}
check "new uploader cooled the new data" wait_for 90 cooled_alive
be_resume "$up1"
check "old uploader back" cluster_wait_alive 3 60
same_meta() {
    tablets_true t 'len(r) == 3 and len({x["cooldown_meta_id"] for x in r}) == 1 and len({x["cooldown_term"] for x in r}) == 1 and all(x.get("cooldowned_version", -1) >= x.get("version", 0) for x in r)'
}
check "every replica follows the new uploader's meta" wait_for 120 same_meta
term2=$(tablets_field t 'r[0]["cooldown_term"]')
at_fe_term() {
    tablets_true t "all(x['cooldown_term'] == x['fe_cooldown_term'] and x['cooldown_replica_id'] == x['fe_cooldown_replica_id'] for x in r)"
}
check "the replica that was stopped during the term change is at the FE's term ($term2)" at_fe_term
rep2=$(tablets_field t 'r[0]["cooldown_replica_id"]')
stale_wrote_nothing() {
    local f n
    for f in "$CLUSTER_REMOTE/data/$tid/$rep1".*.meta; do
        [ -e "$f" ] || continue
        n=${f##*/$rep1.}; n=${n%.meta}
        [ "$n" -ge "$term2" ] && { echo "stale replica $rep1 wrote $f" >&2; return 1; }
    done
    return 0
}
check "the stale uploader wrote no meta of the new term" stale_wrote_nothing
meta_is_followed() {
    python3 - "$CLUSTER_REMOTE/data/$tid/$rep2.$term2.meta" "$(tablets_field t 'r[0]["cooldown_meta_id"]')" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if m["cooldown_meta_id"] == sys.argv[2] and m["term"] >= 2 else 1)
EOF
}
check "the followed meta is the new uploader's" meta_is_followed
check "every row once after the failover" test "$(fctl scan t --columns k --format csv | grep -c '^[0-9]')" -eq 5000

# dropping the table deletes the tablet's remote prefix (its last replica is gone)
check "table drop" fctl table drop t
prefix_gone() { [ "$(local_objects "data/$tid")" -eq 0 ]; }
check "remote prefix deleted after the drop" wait_for 60 prefix_gone

cluster_finish
