#!/usr/bin/env bash
# floe-be on its own: every bad be.conf and a token file others can read stop
# it at start with one line naming the file, line and key (exit 2, nothing
# created); a good config starts it, it stops on SIGTERM, and a restart over
# the same storage root comes back; --help-config lists every key.
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
         base_min_rowsets; do
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
finish
