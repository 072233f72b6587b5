#!/usr/bin/env bash
# FE operations end to end (FE + 4 BEs on loopback, no storage policy):
#  - the example deploy/conf/fe.conf (only paths and ports moved) starts an FE;
#  - `resource check` on a local resource: one ok line per backend and exit 0
#    with every BE up; with one BE stopped (and seen dead) it exits non-zero
#    and names that backend as not alive, not probed;
#  - a BE keeps its backend id across a restart;
#  - `scan --format json` prints one JSON object per row; `load --header`
#    skips the header line (without --header the same file is refused);
#  - pings to a paused BE do not hold up a table drop on the healthy BEs;
#  - a paused BE misses a load (which publishes by majority), its replicas
#    are reported lagging behind; once resumed, repair brings every replica
#    back to normal at the tablet's version and the scan is unchanged;
#  - `backend decommission`: repair moves every replica off the backend,
#    each tablet keeps its replica count on the others, the scan is unchanged.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

# ---- the example fe.conf, with only paths and ports changed ----
fe_bin=$(bin floe-fe) || { fail "floe-fe binary"; finish; }
mkdir -p "$T/exfe/meta"
(umask 077; head -c 48 /dev/urandom | base64 -w0 >"$T/exfe/token"; echo >>"$T/exfe/token")
ex_rpc=$(free_port); ex_http=$(free_port)
while [ "$ex_http" = "$ex_rpc" ]; do ex_http=$(free_port); done
adapt_conf "$FLOE_ROOT/deploy/conf/fe.conf" "$T/exfe/fe.conf" rpc_port="$ex_rpc" http_port="$ex_http" \
    meta_dir="$T/exfe/meta" cluster_token_file="$T/exfe/token"
check "example fe.conf copied with only paths and ports changed" \
    test "$(diff "$FLOE_ROOT/deploy/conf/fe.conf" "$T/exfe/fe.conf" | grep -c '^>')" -eq 4
"$fe_bin" --config "$T/exfe/fe.conf" >>"$T/exfe/log" 2>&1 </dev/null &
exfe=$!
track_pid "$exfe"
exfe_up() { kill -0 "$exfe" 2>/dev/null && port_open "$ex_rpc" && http_ok "$ex_http"; }
if wait_for 30 exfe_up; then
    pass "floe-fe starts with the example fe.conf (rpc and /health answer)"
else
    fail "floe-fe with the example fe.conf: $(tail -3 "$T/exfe/log")"
fi
kill -TERM "$exfe"
exfe_gone() { ! kill -0 "$exfe" 2>/dev/null; }
check "floe-fe with the example fe.conf stops on SIGTERM" wait_for 30 exfe_gone
wait "$exfe"; rc=$?
check "floe-fe with the example fe.conf: exit status 0" test $rc -eq 0
check "example fe.conf: no config error logged" bash -c '! grep -q "fe.conf:" "$0"' "$T/exfe/log"
check "example fe.conf: FE wrote its checkpoint image" test -s "$T/exfe/meta/image.json"

# ---- the cluster ----
# Dead after 4 s without a heartbeat (pings every second), repair every second.
CLUSTER_FE_CONF="backend_dead_after_s = 4
repair_interval_s = 1"
CLUSTER_BE_CONF=$FAST_COOL_BE_CONF
cluster_init 4
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start: FE lists 4 alive backends"

# be_id I: the backend id the FE lists for BE I (matched by RPC port).
be_id() {
    fctl --json backends | python3 -c '
import json, sys
print([b["backend_id"] for b in json.load(sys.stdin) if b["port"] == int(sys.argv[1])][0])' "${BE_RPC_PORT[$1]}"
}
# be_dead I: the FE lists BE I as not alive.
be_dead() {
    fctl --json backends | python3 -c '
import json, sys
sys.exit(0 if [b["alive"] for b in json.load(sys.stdin) if b["port"] == int(sys.argv[1])] == [False] else 1)' \
        "${BE_RPC_PORT[$1]}"
}
declare -a BID=()
for i in 1 2 3 4; do BID[$i]=$(be_id "$i"); done
check "every BE has a distinct backend id" test "$(printf '%s\n' "${BID[@]}" | sort -u | grep -c .)" -eq 4

# ---- resource check ----
mkdir -p "$T/shared"
check "resource create (local)" fctl resource create shared --type local --root "$T/shared"
out=$(fctl resource check shared 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "resource check with 4 BEs up exits 0" test $rc -eq 0
check "resource check: fe line ok" grep -q '^fe: put/get/list/delete of .* ok$' <<<"$out"
nok=0
for i in 1 2 3 4; do grep -qx "backend ${BID[$i]}: ok" <<<"$out" && nok=$((nok + 1)); done
check "resource check: one ok line per backend (4)" test "$nok" -eq 4 -a "$(grep -c '^backend ' <<<"$out")" -eq 4
check "resource check: summary ok" grep -q '^resource shared: ok (5 nodes checked)$' <<<"$out"

be_stop 3
check "FE sees BE 3 dead" wait_for 30 be_dead 3
out=$(fctl resource check shared 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "resource check with BE 3 down exits non-zero" test $rc -ne 0
check "resource check names the down backend" grep -qx "backend ${BID[3]}: not alive, not probed" <<<"$out"
check "resource check: the 3 others still ok" test "$(grep -c '^backend [0-9]*: ok$' <<<"$out")" -eq 3
check "resource check: summary FAILED, 1 backend not alive" \
    grep -q '^resource shared: FAILED (4 nodes checked, 1 backends not alive)$' <<<"$out"
check "resource check: one-line error on stderr" grep -qx 'floectl: resource shared: check failed' <<<"$out"

# ---- backend id survives a restart ----
be_start 3 && be_wait_up 3
check "4 backends alive after BE 3 restart" cluster_wait_alive 4 60
check "BE 3 keeps its backend id across a restart" test "$(be_id 3)" = "${BID[3]}"
check "resource check ok again" fctl resource check shared

# ---- load --header, scan --format json ----
check "table create" fctl table create t --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 4 --replicas 3
{ echo "k,ts,v,s"; gen 0 2000; } >"$T/h.csv"
out=$(fctl load t "$T/h.csv" 2>&1); rc=$?
check "load of a CSV with a header line, without --header, is refused" test $rc -ne 0
check "refused load: one line naming line 1" bash -c '[ "$(printf "%s\n" "$0" | wc -l)" -eq 1 ] && grep -q "line 1" <<<"$0"' "$out"
check "refused load wrote nothing" test "$(scan_sum t | cut -d' ' -f1)" = 0
out=$(fctl --json load t "$T/h.csv" --header); rc=$?
check "load --header" test $rc -eq 0
check "load --header counts 2000 rows (the header is not a row)" \
    python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["rows"] == 2000 else 1)' "$out"
json_rows_ok() {   # json_rows_ok TABLE N: every line a JSON object, N of them, keys 0..N-1
    fctl scan "$1" --format json | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
ok = all(isinstance(r, dict) and set(r) == {"k", "ts", "v", "s"} for r in rows)
ok = ok and sorted(r["k"] for r in rows) == list(range(int(sys.argv[1])))
ok = ok and all(r["k"] != "k" for r in rows)
sys.exit(0 if ok else 1)' "$2"
}
check "scan --format json: 2000 JSON rows, keys 0..1999, no header row" json_rows_ok t 2000
check "scan --format json --limit 5 --columns k: 5 rows of {k}" bash -c \
    'fctl() { "$FLOECTL_BIN" "$@"; }; fctl scan t --columns k --limit 5 --format json | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if len(rows) == 5 and all(list(r) == [\"k\"] for r in rows) else 1)"'
sum0=$(scan_sum t)
check "scan checksum of 2000 rows" test "${sum0%% *}" = 2000

# ---- a lagging replica is repaired ----
# BE 2 paused: the FE declares it dead, a load publishes by majority and
# marks its replicas lagging; resumed, repair catches them up.
be_pause 2
check "FE sees paused BE 2 dead" wait_for 30 be_dead 2
# The FE has pinged the stopped BE every second meanwhile. Those pings must
# not hold the FE's sender threads: a table dropped now is gone from the
# healthy BEs within seconds (they waited up to 120 s per ping before).
check "table create while BE 2 is paused" fctl table create d --schema "k:int64,v:double" --key k --buckets 2 --replicas 2
d_tablets=$(tablets_field d "' '.join(sorted({str(x['tablet']) for x in r}))")
d_files() { local i id n=0; for i in 1 3 4; do for id in $d_tablets; do [ -e "$T/be$i/storage/meta/$id.json" ] && n=$((n + 1)); done; done; echo "$n"; }
check "table d has 4 replica metas on the healthy BEs" test "$(d_files)" -eq 4
check "table drop while BE 2 is paused" fctl table drop d
d_gone() { [ "$(d_files)" -eq 0 ]; }
check "the healthy BEs dropped table d's tablets within 15 s (pings to the paused BE hold no sender)" wait_for 15 d_gone
gen 2000 3000 >"$T/b.csv"
out=$(fctl --json load t "$T/b.csv"); rc=$?
check "load with BE 2 paused succeeds by majority" test $rc -eq 0
check "load reports lagging replicas" \
    python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["lagging_replicas"] > 0 else 1)' "$out"
sum1=$(scan_sum t)
check "scan with BE 2 paused: 5000 rows" test "${sum1%% *}" = 5000
b2=${BID[2]}
check "BE 2's replicas are lagging, behind the tablet's version" tablets_true t \
    "any(x['backend'] == $b2 for x in r) and all(x['state'] == 'lagging' and x['version'] < max(y['version'] for y in r if y['tablet'] == x['tablet']) for x in r if x['backend'] == $b2)"
check "the other replicas are normal" tablets_true t "all(x['state'] == 'normal' for x in r if x['backend'] != $b2)"
be_resume 2
caught_up() {
    tablets_true t 'all(x["state"] == "normal" for x in r) and all(len({x["version"] for x in r if x["tablet"] == t}) == 1 for t in {x["tablet"] for x in r}) and len(r) == 12'
}
check "after resume every replica is normal at its tablet's version" wait_for 60 caught_up
check "4 backends alive after resume" cluster_wait_alive 4 30
check "scan after repair equals the scan after the load" test "$(scan_sum t)" = "$sum1"

# ---- decommission ----
b4=${BID[4]}
had=$(tablets_field t "sum(1 for x in r if x['backend'] == $b4)")
check "BE 4 hosts replicas before decommission" test "${had:-0}" -gt 0
check "backend decommission" fctl backend decommission "$b4"
check "backends lists BE 4 decommissioned" bash -c \
    '"$FLOECTL_BIN" --json backends | python3 -c "import json,sys; sys.exit(0 if [b[\"decommissioned\"] for b in json.load(sys.stdin) if b[\"backend_id\"] == $0] == [True] else 1)"' "$b4"
moved_off() {
    tablets_true t "not any(x['backend'] == $b4 for x in r) and len(r) == 12 and all(x['state'] == 'normal' for x in r) and all(len({x['backend'] for x in r if x['tablet'] == t}) == 3 and len({x['version'] for x in r if x['tablet'] == t}) == 1 for t in {x['tablet'] for x in r})"
}
check "repair moves every replica off BE 4; each tablet keeps 3 normal replicas on 3 other BEs" wait_for 60 moved_off
check "backends lists 0 tablets on BE 4" bash -c \
    '"$FLOECTL_BIN" --json backends | python3 -c "import json,sys; sys.exit(0 if [b[\"tablets\"] for b in json.load(sys.stdin) if b[\"backend_id\"] == $0] == [0] else 1)"' "$b4"
check "scan after decommission unchanged" test "$(scan_sum t)" = "$sum1"
out=$(fctl resource check shared 2>&1); rc=$?
check "resource check skips the decommissioned backend and is ok" \
    bash -c '[ "$1" -eq 0 ] && ! grep -q "^backend $2:" <<<"$0" && [ "$(grep -c "^backend [0-9]*: ok$" <<<"$0")" -eq 3 ]' "$out" "$rc" "$b4"

cluster_finish
