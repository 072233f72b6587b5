#!/usr/bin/env bash
# floe-be on its own: every bad be.conf and a token file others can read stop
# it at start with one line naming the file, line and key (exit 2, nothing
# created); a good config starts it, it stops on SIGTERM, and a restart over
# the same storage root comes back; --help-config lists every key; the
# example deploy/conf/be.conf, with only its paths and ports moved into a
# temp dir, is accepted: it starts, serves /health and stops cleanly.
. "$(dirname "$0")/lib/common.sh"

be=$(bin floe-be) || { fail "floe-be binary"; finish; }
umask 077
head -c 48 /dev/urandom | base64 >"$T/token"
chmod 600 "$T/token"

# bad_conf NAME EXPECT LINES...: floe-be must refuse with EXPECT in its message
bad_conf() {
    local name=$1 expect=$2; shift 2
    printf '%s\n' "$@" >"$T/$name.conf"
    local out rc
    out=$("$be" --config "$T/$name.conf" 2>&1 </dev/null); rc=$?
    if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *"$expect"* ]]; then
        pass "bad config $name"
    else
        fail "bad config $name: rc=$rc out=$out"
    fi
    [ ! -e "$T/root-$name" ] || fail "bad config $name created its storage root"
}

base=("storage_root = $T/root-x" "cluster_token_file = $T/token" "rpc_port = 0" "http_port = 0")
bad_conf unknown_key "$T/unknown_key.conf:5: key 'bogus': unknown key" "${base[@]}" "bogus = 1"
bad_conf bad_port "key 'rpc_port'" "storage_root = $T/root-bad_port" "cluster_token_file = $T/token" "rpc_port = 70000"
bad_conf no_root "key 'storage_root': required" "cluster_token_file = $T/token"
bad_conf bad_bool "key 'compaction_enabled'" "${base[@]}" "compaction_enabled = maybe"
bad_conf bad_duration "key 'report_interval_s'" "${base[@]}" "report_interval_s = 0"
bad_conf bad_level "log_level" "${base[@]}" "log_level = loud"
cp "$T/token" "$T/token-open"; chmod 644 "$T/token-open"
bad_conf open_token "token-open" "storage_root = $T/root-open_token" "cluster_token_file = $T/token-open" "rpc_port = 0"

out=$("$be" --help-config)
missing=""
for k in fe_address rpc_port http_port storage_root cluster_token_file report_interval_s \
         cooldown_check_interval_s remote_gc_interval_s remote_gc_grace_s file_cache_dir \
         file_cache_capacity_mb file_cache_block_kb workers compaction_enabled cumulative_min_rowsets \
         base_min_rowsets stale_rowset_keep_s txn_timeout_s; do
    [[ $out == *"$k = "* ]] || missing="$missing $k"
done
[ -z "$missing" ] && pass "--help-config lists every key" || fail "--help-config misses:$missing"

port=$(free_port)
cat >"$T/good.conf" <<CONF
storage_root = $T/root
cluster_token_file = $T/token
rpc_port = $port
http_port = 0
CONF
start_be() {
    "$be" --config "$T/good.conf" >>"$T/be.log" 2>&1 </dev/null &
    pid=$!
    track_pid "$pid"
}
start_be
check "starts and listens" wait_for 20 port_open "$port"
check "creates its storage root" test -d "$T/root/meta" -a -d "$T/root/data"
kill -TERM "$pid"
stopped() { ! kill -0 "$pid" 2>/dev/null; }
check "stops on SIGTERM" wait_for 20 stopped
wait "$pid"; rc=$?
[ $rc -eq 0 ] && pass "clean exit status" || fail "exit status $rc after SIGTERM"
start_be
check "restarts over the same root" wait_for 20 port_open "$port"
kill -KILL "$pid"
check "dies on SIGKILL" wait_for 20 stopped
start_be
check "starts after kill -9" wait_for 20 port_open "$port"
kill -TERM "$pid"; wait_for 20 stopped; wait "$pid" 2>/dev/null

# The example config: a copy with only paths and ports changed (every other
# line byte for byte), so a bad key or value in the example fails here.
ex=$FLOE_ROOT/deploy/conf/be.conf
ex_rpc=$(free_port); ex_http=$(free_port); ex_fe=$(free_port)
while [ "$ex_http" = "$ex_rpc" ]; do ex_http=$(free_port); done
mkdir -p "$T/ex"
if adapt_conf "$ex" "$T/ex/be.conf" fe_address="127.0.0.1:$ex_fe" rpc_port="$ex_rpc" http_port="$ex_http" \
        storage_root="$T/ex/root" cluster_token_file="$T/token" file_cache_dir="$T/ex/cache"; then
    pass "example be.conf copied with only paths and ports changed"
else
    fail "example be.conf lacks a key the copy changes"
fi
changed=$(diff "$ex" "$T/ex/be.conf" | grep -c '^>')
check "example be.conf copy differs in 6 lines only" test "$changed" -eq 6
"$be" --config "$T/ex/be.conf" >>"$T/ex/be.log" 2>&1 </dev/null &
expid=$!
track_pid "$expid"
ex_up() { kill -0 "$expid" 2>/dev/null && port_open "$ex_rpc" && curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$ex_http/health"; }
if wait_for 30 ex_up; then
    pass "floe-be starts with the example be.conf (rpc and /health answer)"
else
    fail "floe-be with the example be.conf: $(tail -3 "$T/ex/be.log")"
fi
check "example be.conf: no config error logged" bash -c '! grep -q "be.conf:" "$0"' "$T/ex/be.log"
kill -TERM "$expid"
exstopped() { ! kill -0 "$expid" 2>/dev/null; }
check "floe-be with the example be.conf stops on SIGTERM" wait_for 20 exstopped
wait "$expid"; rc=$?
[ $rc -eq 0 ] && pass "example be.conf: clean exit status" || fail "example be.conf: exit status $rc after SIGTERM"
finish
