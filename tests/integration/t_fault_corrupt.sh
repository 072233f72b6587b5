#!/usr/bin/env bash
# Fault matrix, damaged objects in the object store: a cooled segment object
# overwritten with garbage (same size), truncated, or emptied; the current
# remote meta emptied or filled with garbage. Each must be detected and
# reported (a scan fails with an error naming the object, never returns
# wrong rows; a damaged meta is named in the node logs and adopted by
# nobody), nothing referenced is deleted because of it, and once the object
# is restored everything works as before.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }

fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null &&
    fctl table create x1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 --replicas 3 \
        --policy cool2s >/dev/null
check "table with a 2 s policy" test $? -eq 0
gen 0 3000 >"$T/a.csv"
check "load" fctl load x1 "$T/a.csv"
sum0=$(scan_sum x1)
check "cooled on all replicas" wait_for 90 table_cooled x1
check "scan unchanged after cooling" test "$(scan_sum x1)" = "$sum0"
tid=$(tablets_field x1 'r[0]["tablet"]')
seg=$(find "$CLUSTER_REMOTE/data/$tid" -name '*.dat' | head -1)
check "one segment object to damage" test -s "$seg"
cp "$seg" "$T/seg.good"

# drop_caches: restart every BE with an empty file cache, so scans read the store.
drop_caches() {
    local i
    for ((i = 1; i <= CLUSTER_N; i++)); do
        be_stop "$i"; rm -rf "$T/be$i/cache"; mkdir -p "$T/be$i/cache"; be_start "$i" "" || return 1
    done
    for ((i = 1; i <= CLUSTER_N; i++)); do be_wait_up "$i" || return 1; done
    cluster_wait_alive 3 30
}
# scan_refused WHAT: the scan fails with one error line and prints no rows.
scan_refused() {
    local out err rc
    out=$(fctl scan x1 --format csv 2>"$T/scan.err"); rc=$?
    err=$(cat "$T/scan.err")
    echo "# scan with $1: rc=$rc: $err"
    [ $rc -ne 0 ] && [ -n "$err" ] && [ "$(printf '%s\n' "$out" | grep -c '^[0-9]')" -eq 0 ]
}

for damage in garbage truncated empty; do
    case $damage in
    garbage) head -c "$(stat -c %s "$T/seg.good")" /dev/urandom >"$seg" ;;
    truncated) head -c $(( $(stat -c %s "$T/seg.good") / 2 )) "$T/seg.good" >"$seg" ;;
    empty) : >"$seg" ;;
    esac
    drop_caches || fail "$damage segment: restart BEs with empty caches"
    check "$damage segment: scan refused, no rows served" scan_refused "$damage segment"
    check "$damage segment: the error names the object" grep -q "${seg#$CLUSTER_REMOTE/}" "$T/scan.err"
    check "$damage segment: all nodes still up" bash -c "kill -0 $FE_PID ${BE_PID[1]} ${BE_PID[2]} ${BE_PID[3]}"
    cp "$T/seg.good" "$seg"
    drop_caches || fail "$damage segment: restart BEs after the restore"
    check "$damage segment: scan correct again once the object is restored" test "$(scan_sum x1)" = "$sum0"
done
# a few GC rounds have run meanwhile: nothing referenced was deleted
check "damaged segments deleted nothing referenced" remote_check x1 --quiet

# The current remote meta, damaged: followers must not adopt it, nothing is
# deleted because of it, and the uploader's next meta repairs the state.
upl=$(tablets_field x1 'r[0]["fe_cooldown_replica_id"]')
term=$(tablets_field x1 'r[0]["fe_cooldown_term"]')
meta=$CLUSTER_REMOTE/data/$tid/$upl.$term.meta
check "current remote meta present" test -s "$meta"
cp "$meta" "$T/meta.good"
meta_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cooldown_meta_id"])' "$meta")
for damage in empty garbage; do
    case $damage in
    empty) : >"$meta" ;;
    garbage) printf '{"format": 1, "tablet_id": "%s", "rowsets": [' "$tid" >"$meta" ;;
    esac
    n0=$(find "$CLUSTER_REMOTE/data/$tid" -type f | wc -l)
    drop_caches || fail "$damage meta: restart BEs"
    check "$damage meta: replicas keep the meta they had" \
        tablets_true x1 "all(x['cooldown_meta_id'] == '$meta_id' for x in r)"
    check "$damage meta: scan still correct (replicas hold their own meta)" test "$(scan_sum x1)" = "$sum0"
    named() { grep -q "${meta#$CLUSTER_REMOTE/}" "$T/be1/log" "$T/be2/log" "$T/be3/log"; }
    check "$damage meta: node logs name the damaged meta" wait_for 30 named
    check "$damage meta: nothing referenced deleted" remote_check x1 --quiet --allow-bad-meta
    check "$damage meta: all nodes still up" bash -c "kill -0 $FE_PID ${BE_PID[1]} ${BE_PID[2]} ${BE_PID[3]}"
done
cp "$T/meta.good" "$meta"
gen 3000 500 >"$T/b.csv"
check "load more rows after the meta is restored" fctl load x1 "$T/b.csv"
sum1=$(scan_sum x1)
check "cooling resumes: all replicas cooled on the uploader's next meta" wait_for 90 table_cooled x1
check "scan has all 3500 rows" test "${sum1%% *}" = 3500
check "scan unchanged after the repair" test "$(scan_sum x1)" = "$sum1"
check "every referenced object exists" remote_check x1 --quiet

cluster_finish
