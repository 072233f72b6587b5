#!/usr/bin/env bash
# A file loaded in several chunks is one transaction: `floectl load
# --chunk-mb 1` of a ~3.6 MB CSV makes every row visible once with exactly
# one table version, also when one replica fails a write in the second chunk
# (it is skipped from then on, marked lagging at the publish, its staged rows
# of the txn are dropped and repair catches it up); with the FE's fault point
# fe.load.before_commit armed
# the same kind of load fails after all its chunks were written, and then the
# table version, the scan checksum and the BEs' segment files are as before
# (every replica's staged rows of that txn were aborted). A label names the
# whole file: the retry after the fault loads it once, a second retry loads
# nothing. (A continuation with an unknown txn id is refused: unit test
# fe_server chunked_load_continuations.)
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

# table_version TABLE: the table's version as the FE lists it.
table_version() {
    fctl --json tables | python3 -c '
import json, sys
print([t["version"] for t in json.load(sys.stdin) if t["name"] == sys.argv[1]][0])' "$1"
}
# json_field JSON KEY
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
# segment_files: every segment file on every BE (committed or staged), sorted.
segment_files() { find "$T"/be*/storage/data -name '*.dat' 2>/dev/null | sort; }
# be_aborted: tablets whose txn the BEs aborted, summed over the BEs.
be_aborted() {
    local i s=0 v
    for ((i = 1; i <= CLUSTER_N; i++)); do
        v=$(metric_sum "${BE_HTTP_PORT[$i]}" floe_be_txns_total 'result="aborted"') || return 1
        s=$((s + v))
    done
    echo "$s"
}
fe_status_field() { curl -fsS -m 5 "http://127.0.0.1:$FE_HTTP_PORT/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

BUCKETS=4
REPLICAS=3
# no background compaction: the segment files change only by loads and aborts
CLUSTER_BE_CONF="compaction_enabled = false"
# BE 1 finishes segments 1-4 for the first load (4 tablets), 5-8 for the
# first chunk of big.csv; the 9th, its first write of the second chunk, fails
BE_FAULTS[1]="segment.finish=nth:9"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start: FE lists 3 alive backends"

check "table create" fctl table create t --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets $BUCKETS --replicas $REPLICAS
gen 0 1000 >"$T/a.csv"
check "first load (one chunk)" fctl load t "$T/a.csv"
gen 1000 95000 >"$T/big.csv"
size=$(stat -c %s "$T/big.csv")
check "big.csv is 3-4 MB ($size bytes)" test "$size" -gt $((3 << 20)) -a "$size" -lt $((4 << 20))

# (1) a multi-chunk load: one transaction, one version, every row once
v0=$(table_version t)
pub0=$(metric "$FE_HTTP_PORT" 'floe_fe_txns_total{result="published"}')
ab1_0=$(metric_sum "${BE_HTTP_PORT[1]}" floe_be_txns_total 'result="aborted"')
out=$(fctl --json load t "$T/big.csv" --chunk-mb 1 2>&1); rc=$?
echo "$out"
check "multi-chunk load succeeds" test $rc -eq 0
fields=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["chunks"], d["rows"], d["version"], d["lagging_replicas"])' "$out" 2>/dev/null)
check "it went in 4 chunks, 95000 rows, as version $((v0 + 1)), 1 replica lagging ($fields)" \
    test "$fields" = "4 95000 $((v0 + 1)) 1"
check "table version moved by exactly one ($v0 -> $(table_version t))" test "$(table_version t)" = $((v0 + 1))
check "the FE published one txn for it" \
    test "$(metric "$FE_HTTP_PORT" 'floe_fe_txns_total{result="published"}')" = $((pub0 + 1))
check "scan returns every key once (96000)" keys_ok t 96000
check "the FE log names the replica that failed in chunk 2" grep -q "failed in chunk 2 (write_rowset: .*injected finish fault" "$T/fe/log"
check "BE 1 dropped its staged rows of the failed replica" \
    test "$(metric_sum "${BE_HTTP_PORT[1]}" floe_be_txns_total 'result="aborted"')" = $((ab1_0 + 1))
check "no load left open on the FE" test "$(fe_status_field loads_open)" = 0
check "repair catches the lagging replica up" wait_for 60 tablets_true t \
    'all(x["state"] == "normal" and x["version"] == '$((v0 + 1))' for x in r)'
check "same rows after the repair" keys_ok t 96000

# (2) the final chunk fails before its commit: nothing of the load is visible
fe_restart "fe.load.before_commit=error"
check "FE restarted with fe.load.before_commit=error" fe_alive
check "backends alive after the FE restart" cluster_wait_alive 3 60
gen 96000 95000 >"$T/big2.csv"
v1=$(table_version t)
sum1=$(scan_sum t)
files1=$(segment_files)
ab1=$(be_aborted)
check "segment files listed before the failing load" test -n "$files1"
err=$(fctl load t "$T/big2.csv" --chunk-mb 1 --label big2 2>&1 >/dev/null); rc=$?
echo "# $err"
check "the load fails" test $rc -ne 0
check "with one line on stderr" test "$(printf '%s\n' "$err" | wc -l)" -eq 1
check "saying nothing was loaded" grep -q "nothing was loaded" <<<"$err"
check "naming the fault" grep -q "before the commit" <<<"$err"
check "table version unchanged ($v1)" test "$(table_version t)" = "$v1"
check "scan checksum unchanged" test "$(scan_sum t)" = "$sum1"
_same_files() { [ "$(segment_files)" = "$files1" ]; }
check "no staged segment file of the txn left on the BEs" wait_for 30 _same_files
# each of the 4 tablets (every one got rows) was aborted on its 3 replicas
_aborted_all() { [ "$(be_aborted)" = $((ab1 + BUCKETS * REPLICAS)) ]; }
check "the BEs aborted the txn on all $((BUCKETS * REPLICAS)) replicas" wait_for 30 _aborted_all
check "no load left open on the FE" test "$(fe_status_field loads_open)" = 0
check "the FE log names the aborted txn" grep -q "aborted: load into 't': injected fault before the commit" "$T/fe/log"

# (3) the same file with the same label once the fault is gone: loaded once
fe_restart ""
check "backends alive after the FE restart" cluster_wait_alive 3 60
out=$(fctl --json load t "$T/big2.csv" --chunk-mb 1 --label big2 2>&1); rc=$?
echo "$out"
check "the retry with the label loads" test $rc -eq 0
check "as one version" test "$(table_version t)" = $((v1 + 1))
check "scan returns every key once (191000)" keys_ok t 191000
out=$(fctl load t "$T/big2.csv" --chunk-mb 1 --label big2 2>&1); rc=$?
echo "$out"
check "a second retry with the label succeeds" test $rc -eq 0
check "and says it was already loaded" grep -q "already loaded under label big2: 95000 rows" <<<"$out"
check "the version did not move" test "$(table_version t)" = $((v1 + 1))

# bad input: one line, nothing changes
out=$(fctl load t "$T/big2.csv" --chunk-mb 0 2>&1 >/dev/null); rc=$?
check "--chunk-mb 0 refused with one line" test $rc -eq 2 -a "$(printf '%s\n' "$out" | wc -l)" -eq 1
check "the version did not move" test "$(table_version t)" = $((v1 + 1))

cluster_finish
