#!/usr/bin/env bash
# Fault matrix, the object store misbehaving: a 3-BE cluster cools a table
# down to s3rver through the fault proxy, which answers 500 / 503 / SlowDown,
# resets connections and stalls 2 s on 10% of the requests; then the server
# is down for a while (20 s; 60 s with FLOE_TEST_FULL=1) while more data
# arrives. Cooling must complete anyway, scans must never change, every
# object a replica references must exist (checked with awscli, an
# independent client), and every process must stay up.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/s3servers.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_BE_CONF="$FAST_COOL_BE_CONF"
cluster_init 3
s3srv_start_s3rver "$T/s3rver" >&2 || { fail "s3rver start"; cluster_finish; }
python3 "$FLOE_ROOT/tests/faultproxy/faultproxy.py" --upstream "127.0.0.1:$S3RVER_PORT" \
    --port-file "$T/proxy.port" --rate 0.1 --modes 500,503,slowdown,reset,delay --delay-ms 2000 \
    --seed 8 --stats-file "$T/proxy.stats" >"$T/proxy.log" 2>&1 &
track_pid $!
check "fault proxy up" wait_for 20 test -s "$T/proxy.port"
proxy=http://127.0.0.1:$(cat "$T/proxy.port")
# the BEs read the keys from these variables (named in the resource)
export FT_AK=$S3RVER_ACCESS_KEY FT_SK=$S3RVER_SECRET_KEY
cluster_start || { fail "cluster start"; cluster_finish; }

check "resource through the fault proxy" fctl resource create flaky --type s3 --endpoint "$proxy" \
    --region us-east-1 --bucket "$S3RVER_BUCKET" --prefix ft --path-style --access-key-env FT_AK --secret-key-env FT_SK
check "policy 1 s" fctl policy create cool1s --resource flaky --cooldown-ttl 1s
check "table" fctl table create f1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 3 --replicas 3 --policy cool1s
gen 0 6000 >"$T/a.csv"
check "load" fctl load f1 "$T/a.csv"
sum_a=$(scan_sum f1)
check "cools down through 10% injected failures" wait_for 180 table_cooled f1
check "scan unchanged" test "$(scan_sum f1)" = "$sum_a"
injected() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["injected"])' "$T/proxy.stats"; }
check "the proxy injected failures ($(injected))" test "$(injected)" -gt 0

# s3_check TABLE: remote_check over an awscli listing of the bucket (direct, not via the proxy)
s3_check() {
    local i metas=()
    s3srv_aws S3RVER s3api list-objects-v2 --bucket "$S3RVER_BUCKET" --prefix ft/ --output json >"$T/listing.json" || return 1
    for ((i = 1; i <= CLUSTER_N; i++)); do metas+=(--be-meta "$T/be$i/storage/meta"); done
    tablets_json "$1" | python3 "$FLOE_ROOT/tests/integration/lib/remote_check.py" --s3 "$T/listing.json" "${metas[@]}" "${@:2}"
}
check "awscli sees every referenced object" s3_check f1 --quiet

# the object store goes away for a while
down=20; [ "${FLOE_TEST_FULL:-0}" = 1 ] && down=60
s3srv_ctl "$T/s3rver" stop
t0=$(date +%s)
gen 6000 3000 >"$T/b.csv"
check "load while the object store is down (hot data is local)" fctl load f1 "$T/b.csv"
sum_b=$(scan_sum f1 2>/dev/null)
echo "# scan while the store is down: ${sum_b:-failed} (cold data comes from the file caches if cached)"
# the outage itself: this sleep is the fault, not a synchronisation
while [ $(( $(date +%s) - t0 )) -lt $down ]; do sleep 1; done
all_up() { fe_alive && be_alive 1 && be_alive 2 && be_alive 3; }
check "all nodes up after ${down}s without the object store" all_up
s3srv_ctl "$T/s3rver" start >&2
check "object store back" wait_for 30 curl -s -o /dev/null "$S3RVER_ENDPOINT/"
check "the new rows cool down after the outage" wait_for 180 table_cooled f1
sum_c=$(scan_sum f1)
check "scan has all 9000 rows" test "${sum_c%% *}" = 9000
[ -n "${sum_b:-}" ] && check "scan during the outage matched" test "$sum_b" = "$sum_c"
check "every referenced object exists after the outage" s3_check f1 --quiet
check "orphans of failed uploads are collected" wait_for 120 s3_check f1 --quiet --no-orphans

cluster_finish
