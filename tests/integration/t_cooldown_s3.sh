#!/usr/bin/env bash
# Cooldown to real S3 servers on loopback: Swift's S3 API (verifies SigV4)
# and s3rver. For each: a 3-replica table cools down to the bucket, awscli
# (an independent client) sees the segment objects and exactly one writer
# per tablet in the metas, every replica drops its local files, scans return
# the same rows, and a BE restart reads remote data through its cache.
# A server that cannot start here is reported as FAIL.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/s3servers.sh"
. "$(dirname "$0")/lib/cluster.sh"


servers=${COOLDOWN_S3_SERVERS:-"s3rver swift"}
cluster_init 3
ok=1
for s in $servers; do
    if [ "$s" = swift ]; then s3srv_start_swift "$T/swift" >&2 || { fail "swift start"; ok=0; }
    else s3srv_start_s3rver "$T/s3rver" >&2 || { fail "s3rver start"; ok=0; }; fi
done
[ $ok = 1 ] || cluster_finish
# credentials reach the BEs through their environment (named in the resource), never in messages
export S3RVER_AK=${S3RVER_ACCESS_KEY:-} S3RVER_SK=${S3RVER_SECRET_KEY:-} SWIFT_AK=${SWIFT_ACCESS_KEY:-} SWIFT_SK=${SWIFT_SECRET_KEY:-}
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start"

n=0
for s in $servers; do
    n=$((n + 1))
    P=S3RVER; [ "$s" = swift ] && P=SWIFT
    ep=${P}_ENDPOINT; bucket=${P}_BUCKET; region=${P}_REGION; ak=${P}_ACCESS_KEY; sk=${P}_SECRET_KEY
    check "$s: resource create" fctl resource create "r$n" --type s3 --endpoint "${!ep}" --region "${!region}" \
        --bucket "${!bucket}" --prefix "cool$n" --path-style --access-key-env "${P}_AK" --secret-key-env "${P}_SK"
    check "$s: policy create" fctl policy create "p$n" --resource "r$n" --cooldown-ttl 1s
    check "$s: table create" fctl table create "t$n" --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
        --buckets 2 --replicas 3 --policy "p$n"
    gen 0 5000 >"$T/a$n.csv"
    check "$s: load" fctl load "t$n" "$T/a$n.csv"
    sum_hot=$(scan_sum "t$n")
    cooled() {
        tablets_true "$1" 'len(r) == 6 and all(x.get("cooldowned_version", -1) >= x.get("version", 0) and x.get("local_bytes", 1) == 0 for x in r)'
    }
    check "$s: all replicas cooled down" wait_for 120 cooled "t$n"
    check "$s: same rows after cooling" test "$(scan_sum "t$n")" = "$sum_hot"
    keys=$(aws_s3 "${!ep}" "${!ak}" "${!sk}" s3api list-objects-v2 --bucket "${!bucket}" --prefix "cool$n/data/" \
        --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n')
    check "$s: awscli lists segment objects" test "$(grep -c '\.dat$' <<<"$keys")" -ge 2
    one_writer() {
        python3 -c '
import re, sys, collections
w = collections.defaultdict(set)
for k in sys.stdin.read().split():
    m = re.match(r"^cool\d+/data/(\d+)/(\d+)\.(\d+)\.meta$", k)
    if m:
        w[m.group(1)].add(m.group(2))
sys.exit(0 if len(w) == 2 and all(len(v) == 1 for v in w.values()) else 1)' <<<"$keys"
    }
    check "$s: one writer per tablet in the metas" one_writer
done
for i in 1 2 3; do be_restart "$i"; done
check "backends back after restarts" cluster_wait_alive 3 60
n=0
for s in $servers; do
    n=$((n + 1))
    check "$s: every row once after restarts (remote reads)" \
        test "$(fctl scan "t$n" --columns k --format csv | grep -c '^[0-9]')" -eq 5000
done

cluster_finish
