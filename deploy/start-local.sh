#!/usr/bin/env bash
# Starts a local floe cluster on loopback: one floe-fe and N floe-be, each
# with its own config, data directory and log under DIR, sharing one cluster
# token (DIR/cluster.token, mode 0600). The nodes keep running after this
# script exits; deploy/stop-local.sh DIR stops them by their pid files.
#
#   deploy/start-local.sh [--bes N] [--dir DIR] [--build BUILD_DIR]
#
# Defaults: 3 backends, DIR = $FLOE_LOCAL_DIR or /tmp/floe-local, binaries
# from ./build. Ports: FE rpc 9020 / http 8030, BE i rpc 9060+i / http 8040+i
# (override with FLOE_FE_RPC_PORT, FLOE_FE_HTTP_PORT, FLOE_BE_RPC_BASE,
# FLOE_BE_HTTP_BASE). Starting again on an existing DIR keeps its data.
# Prints the environment to use floectl against the cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=3
dir=${FLOE_LOCAL_DIR:-/tmp/floe-local}
build=$root/build
while [ $# -gt 0 ]; do
    case "$1" in
    --bes) n=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "start-local: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
[[ $n =~ ^[1-9][0-9]?$ ]] || { echo "start-local: --bes must be 1..99, got '$n'" >&2; exit 2; }
fe_rpc=${FLOE_FE_RPC_PORT:-9020}
fe_http=${FLOE_FE_HTTP_PORT:-8030}
be_rpc=${FLOE_BE_RPC_BASE:-9060}
be_http=${FLOE_BE_HTTP_BASE:-8040}

findbin() {
    local p
    p=$(find "$build" -name "$1" -type f -perm -u+x 2>/dev/null | head -1)
    [ -n "$p" ] || { echo "start-local: no $1 under $build (build first: meson setup build && ninja -C build)" >&2; exit 1; }
    echo "$p"
}
fe_bin=$(findbin floe-fe)
be_bin=$(findbin floe-be)
ctl_bin=$(findbin floectl)

is_floe() { local c; c=$(cat "/proc/$1/comm" 2>/dev/null) || return 1; [ "$c" = floe-fe ] || [ "$c" = floe-be ]; }
for f in "$dir"/run/*.pid; do
    [ -f "$f" ] || continue
    if is_floe "$(cat "$f")"; then
        echo "start-local: a cluster is already running under $dir (deploy/stop-local.sh $dir stops it)" >&2
        exit 1
    fi
done
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $fe_rpc $fe_http $(seq $((be_rpc + 1)) $((be_rpc + n))) $(seq $((be_http + 1)) $((be_http + n))); do
    if port_busy "$p"; then echo "start-local: port $p on 127.0.0.1 is in use" >&2; exit 1; fi
done

mkdir -p "$dir/run" "$dir/fe/meta" "$dir/remote"
dir=$(cd "$dir" && pwd)
token=$dir/cluster.token
if [ ! -s "$token" ]; then
    (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$token"; echo >>"$token")
fi
chmod 0600 "$token"

cat >"$dir/fe/fe.conf" <<CONF
# floe-fe config written by deploy/start-local.sh (see deploy/conf/fe.conf)
rpc_port = $fe_rpc
http_port = $fe_http
meta_dir = $dir/fe/meta
cluster_token_file = $token
heartbeat_interval_s = 1
backend_dead_after_s = 10
cooldown_conf_check_interval_s = 2
CONF

start() {   # start NAME BIN CONF LOG
    local name=$1 b=$2 conf=$3 log=$4
    setsid "$b" --config "$conf" >>"$log" 2>&1 </dev/null &
    echo $! >"$dir/run/$name.pid"
}
wait_port() {   # wait_port NAME PORT PIDFILE
    local deadline=$(( $(date +%s) + 30 ))
    until port_busy "$2"; do
        if ! kill -0 "$(cat "$3")" 2>/dev/null; then echo "start-local: $1 exited; its log:" >&2; tail -20 "$dir/$1/log" >&2; exit 1; fi
        [ "$(date +%s)" -lt $deadline ] || { echo "start-local: $1 does not listen on port $2 after 30 s" >&2; exit 1; }
        sleep 0.1
    done
}

start fe "$fe_bin" "$dir/fe/fe.conf" "$dir/fe/log"
wait_port fe "$fe_rpc" "$dir/run/fe.pid"
for i in $(seq 1 "$n"); do
    mkdir -p "$dir/be$i/storage" "$dir/be$i/cache"
    cat >"$dir/be$i/be.conf" <<CONF
# floe-be config written by deploy/start-local.sh (see deploy/conf/be.conf)
fe_address = 127.0.0.1:$fe_rpc
rpc_port = $((be_rpc + i))
http_port = $((be_http + i))
storage_root = $dir/be$i/storage
cluster_token_file = $token
report_interval_s = 2
cooldown_check_interval_s = 2
file_cache_dir = $dir/be$i/cache
CONF
    start "be$i" "$be_bin" "$dir/be$i/be.conf" "$dir/be$i/log"
done
for i in $(seq 1 "$n"); do wait_port "be$i" $((be_rpc + i)) "$dir/run/be$i.pid"; done

cat >"$dir/env" <<ENV
export FLOE_FE=127.0.0.1:$fe_rpc
export FLOE_TOKEN_FILE=$token
export PATH=$(dirname "$ctl_bin"):\$PATH
ENV
echo "start-local: FE 127.0.0.1:$fe_rpc (metrics http://127.0.0.1:$fe_http/metrics), $n BEs (rpc $((be_rpc + 1))..$((be_rpc + n)))"
echo "start-local: data and logs in $dir; local object store root $dir/remote"
echo "start-local: use it with:  . $dir/env && floectl backends"
echo "start-local: stop it with: deploy/stop-local.sh $dir"
