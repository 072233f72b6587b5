#!/usr/bin/env bash
# A real cluster (FE + 3 BEs on loopback) through floectl: backends register,
# a table is created with 3 replicas, CSV loads become visible, a scan
# returns exactly the rows loaded (no loss, no duplicates), an FE kill -9 +
# restart keeps the catalog and the data, a BE restart keeps its replicas,
# and bad CLI input is refused with one line and changes nothing.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"


cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start: FE lists 3 alive backends"

check "table create" fctl table create t1 --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 4 --replicas 3
check "tables lists t1" bash -c 'fctl() { "$FLOECTL_BIN" "$@"; }; fctl tables | grep -qw t1'

gen 0 3000 >"$T/a.csv"
gen 3000 2000 >"$T/b.csv"
out=$(fctl load t1 "$T/a.csv" 2>&1); rc=$?
echo "$out"
check "load a.csv" test $rc -eq 0
check "load reports 3000 rows" grep -qw 3000 <<<"$out"
check "load b.csv" fctl load t1 "$T/b.csv"
check "scan returns every key once (5000)" keys_ok t1 5000
sum1=$(scan_sum t1)
check "full scan checksum taken" test -n "$sum1"
check "scan with --where and --limit" test "$(fctl scan t1 --columns k --where "k < 10" --format csv | grep -c '^[0-9]')" -eq 10

# replicas: every tablet has 3 replicas at the same version
check "tablets: 4 tablets x 3 replicas" tablets_true t1 'len(r) == 12'

# FE kill -9 and restart: catalog and data survive
fe_restart
check "FE back after kill -9" fe_alive
check "backends re-listed alive after FE restart" cluster_wait_alive 3 60
check "table survives FE restart" bash -c '"$FLOECTL_BIN" tables | grep -qw t1'
check "same scan checksum after FE restart" test "$(scan_sum t1)" = "$sum1"
gen 5000 1000 >"$T/c.csv"
check "load after FE restart" fctl load t1 "$T/c.csv"
check "scan returns 6000 keys once" keys_ok t1 6000
sum2=$(scan_sum t1)

# BE kill -9 and restart: replicas survive, the scan does not change
be_restart 2
check "BE 2 back after kill -9" be_alive 2
check "3 backends alive after BE restart" cluster_wait_alive 3 60
check "same scan checksum after BE restart" test "$(scan_sum t1)" = "$sum2"

# graceful FE stop/start
fe_stop; fe_start; fe_wait_up
check "backends alive after graceful FE restart" cluster_wait_alive 3 60
check "same scan checksum after graceful FE restart" test "$(scan_sum t1)" = "$sum2"

# bad input: one line, non-zero exit, nothing changes
one_line_fail() {   # one_line_fail ARGS...: exits non-zero with exactly one line on stderr
    local out rc
    out=$(fctl "$@" 2>&1 >/dev/null); rc=$?
    [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [ -n "$out" ]
}
check "bad schema refused" one_line_fail table create t2 --schema "k:int65" --key k
check "unknown table refused" one_line_fail scan nosuch
check "duplicate table refused" one_line_fail table create t1 --schema "k:int64" --key k
printf '1,2026-01-01T00:00:00Z,notanumber,x\n' >"$T/bad.csv"
check "bad CSV refused" one_line_fail load t1 "$T/bad.csv"
check "bad CSV loaded nothing" test "$(scan_sum t1)" = "$sum2"
check "no table t2 after bad input" bash -c '! "$FLOECTL_BIN" tables | grep -qw t2'

check "table drop" fctl table drop t1
check "dropped table gone" bash -c '! "$FLOECTL_BIN" tables | grep -qw t1'

cluster_finish
