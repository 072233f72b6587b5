#!/usr/bin/env bash
# Fault matrix, a deposed FE cannot confirm (master epoch fencing):
#   - FE1 journals a delete confirmation for an orphan and its send is held
#     (fault fe.delete.before_send=delay);
#   - meanwhile FE2 starts on a copy of FE1's meta dir (a standby taking over
#     with the same journal) on other ports: it journals epoch + 1 and pings
#     every backend of the catalog, announcing its address, so the backends
#     persist the new epoch and send their reports to FE2;
#   - FE1's held cooldown_delete then reaches the uploader with the old
#     epoch: refused (log line, floe_be_fenced_total), nothing deleted, FE1
#     learns it was deposed and steps down;
#     (FE2 itself runs with fe.delete.drop=on at first, so the orphan can
#     only go through FE1's stale confirmation);
#   - FE2, restarted without faults (epoch + 2), completes the handshake:
#     the orphan is collected, every referenced object is still there, the
#     scan is unchanged.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
HOLD_MS=10000
FE_FAULTS="fe.delete.before_send=delay:$HOLD_MS"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
schema="k:int64,ts:timestamp,v:double,s:string?"

# ---- local helpers: a second FE on a copy of the first one's meta dir ----
FE2_PID=
FE2_RPC_PORT=$(free_port)
FE2_HTTP_PORT=$(free_port)
while [ "$FE2_HTTP_PORT" = "$FE2_RPC_PORT" ]; do FE2_HTTP_PORT=$(free_port); done
# fe2_start FAULTS [copy]: starts FE2 (copying FE1's meta dir first with "copy").
fe2_start() {
    mkdir -p "$T/fe2"
    if [ "${2:-}" = copy ]; then cp -a "$T/fe/meta" "$T/fe2/meta" || return 1; fi
    cat >"$T/fe2/fe.conf" <<EOF
rpc_port = $FE2_RPC_PORT
http_port = $FE2_HTTP_PORT
meta_dir = $T/fe2/meta
cluster_token_file = $CLUSTER_TOKEN
advertise_host = 127.0.0.1
heartbeat_interval_s = 1
backend_dead_after_s = 6
cooldown_replica_timeout_s = 30
cooldown_conf_check_interval_s = 1
EOF
    echo "==== start $(date +%T.%N) faults='$1'" >>"$T/fe2/log"
    FLOE_FAULTS="$1" "$FLOE_FE_BIN" --config "$T/fe2/fe.conf" >>"$T/fe2/log" 2>&1 </dev/null &
    FE2_PID=$!
    track_pid "$FE2_PID"
}
fe2_up() { node_alive "$FE2_PID" && port_open "$FE2_RPC_PORT" && http_ok "$FE2_HTTP_PORT"; }
# status_field PORT KEY: one scalar field of an FE's /status (cheap: no python on a loaded machine)
status_field() {
    curl -fsS -m 5 "http://127.0.0.1:$1/status" | sed -n "s/.*\"$2\": *\([a-z0-9]*\).*/\1/p"
}
# be_epoch I: the master epoch BE I has persisted
be_epoch() {
    local v
    v=$(sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p' "$T/be$1/storage/fe_epoch.json" 2>/dev/null)
    echo "${v:-0}"
}
all_bes_at_epoch() {
    local i
    for ((i = 1; i <= CLUSTER_N; i++)); do [ "$(be_epoch "$i")" = "$1" ] || return 1; done
}
fenced_deletes() {
    local i n=0 v
    for ((i = 1; i <= CLUSTER_N; i++)); do
        v=$(metric "${BE_HTTP_PORT[$i]}" 'floe_be_fenced_total{method="cooldown_delete"}')
        n=$((n + ${v%.*}))
    done
    echo "$n"
}
refusal_logged() { grep -q "refused cooldown_delete from a deposed FE master" "$T"/be*/log; }
fenced_at_least() { [ "$(fenced_deletes)" -ge "$1" ]; }
confirmed_above() { [ "$(metric "$FE_HTTP_PORT" floe_fe_gc_confirmed_total)" -gt "$1" ]; }
fe1_stepped_down() { [ "$(status_field "$FE_HTTP_PORT" master)" = false ]; }

# ---- a cooled table ----
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null
check "resource and 2 s policy" test $? -eq 0
check "table d1 created" fctl table create d1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s
gen 0 800 >"$T/a.csv"
check "load d1" fctl load d1 "$T/a.csv"
sum_d1=$(scan_sum d1)
check "d1 has 800 rows" test "${sum_d1%% *}" = 800
check "d1 cools down" wait_for 90 table_cooled d1
epoch1=$(status_field "$FE_HTTP_PORT" master_epoch)
check "FE1 journaled a master epoch ($epoch1)" test "${epoch1:-0}" -ge 1
check "every BE learned FE1's epoch from its pings" wait_for 30 all_bes_at_epoch "$epoch1"

# ---- FE1 confirms a delete and stalls before sending it ----
tid=$(tablets_field d1 'r[0]["tablet"]')
orphan="$CLUSTER_REMOTE/data/$tid/00000000-0000-4000-8000-0000000000d1_0.dat"
base=$(metric "$FE_HTTP_PORT" floe_fe_gc_confirmed_total)
mkdir -p "$CLUSTER_REMOTE/data/$tid"
head -c 777 /dev/urandom >"$orphan"
touch -d '-1 hour' "$orphan"
check "FE1 journals a confirmation for the orphan (its send is held ${HOLD_MS} ms)" wait_for 30 confirmed_above "$base"

# ---- FE2 takes over on a copy of the journal ----
check "FE2 starts on a copy of FE1's meta dir (its own deletes dropped)" fe2_start "fe.delete.drop=on" copy
check "FE2 serves" wait_for 30 fe2_up
epoch2=$(status_field "$FE2_HTTP_PORT" master_epoch)
check "FE2 journaled epoch $((epoch1 + 1)) (got $epoch2)" test "$epoch2" = $((epoch1 + 1))
check "every BE persisted FE2's epoch before FE1's delete arrives" wait_for 10 all_bes_at_epoch "$epoch2"

# ---- FE1's held delete arrives with the old epoch ----
check "the uploader refused FE1's cooldown_delete (log line)" wait_for $((HOLD_MS / 1000 + 30)) refusal_logged
check "floe_be_fenced_total{method=cooldown_delete} counts it" fenced_at_least 1
check "the orphan was not deleted by the deposed FE" test -f "$orphan"
check "FE1 learned it was deposed and stepped down" wait_for 20 fe1_stepped_down
check "FE1's confirmation deleted nothing referenced" remote_check d1 --quiet

# ---- FE2 finishes the handshake ----
fe_kill
kill -KILL "$FE2_PID"; wait "$FE2_PID" 2>/dev/null
check "FE2 restarted without faults" fe2_start ""
check "FE2 serves again" wait_for 30 fe2_up
epoch3=$(status_field "$FE2_HTTP_PORT" master_epoch)
check "FE2's restart journaled epoch $((epoch2 + 1)) (got $epoch3)" test "$epoch3" = $((epoch2 + 1))
FE_RPC_PORT=$FE2_RPC_PORT
FE_HTTP_PORT=$FE2_HTTP_PORT
check "FE2 sees the 3 backends alive (they report to it)" cluster_wait_alive 3 30
check "FE2 completes the handshake: the orphan is collected" wait_for 60 no_orphans d1
check "every referenced object of d1 exists" remote_check d1 --quiet
check "d1 scan through FE2 unchanged" test "$(scan_sum d1)" = "$sum_d1"
check "FE2 confirmed at least one delete" confirmed_above 0
check "FE2 is still master" test "$(status_field "$FE2_HTTP_PORT" master)" = true
check "every BE is at FE2's newest epoch" wait_for 10 all_bes_at_epoch "$epoch3"

if [ "$_floe_failed" -ne 0 ] && [ -f "$T/fe2/log" ]; then
    echo "---- fe2/log (last 40 lines)" >&2
    tail -40 "$T/fe2/log" >&2
fi
cluster_finish
