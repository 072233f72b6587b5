#!/usr/bin/env bash
# Stops a local floe cluster started by deploy/start-local.sh (or
# deploy/quickstart.sh): every node whose pid file is in DIR/run is sent
# SIGTERM, given up to 30 s to finish, then SIGKILL. Only the pids recorded
# in those files are signalled, and only if they still run a floe binary.
#
#   deploy/stop-local.sh [DIR]      DIR defaults to $FLOE_LOCAL_DIR or /tmp/floe-local
#   deploy/stop-local.sh --purge [DIR]   also removes DIR (all data!)
set -uo pipefail
purge=0
if [ "${1:-}" = "--purge" ]; then purge=1; shift; fi
case "${1:-}" in -h|--help) sed -n '2,9p' "$0"; exit 0 ;; esac
dir=${1:-${FLOE_LOCAL_DIR:-/tmp/floe-local}}

if [ ! -d "$dir/run" ]; then
    echo "stop-local: no local cluster under $dir (no $dir/run)" >&2
    [ $purge -eq 1 ] && [ -d "$dir" ] && rm -rf "$dir"
    exit 0
fi

is_floe() {   # is_floe PID: the pid still runs floe-fe or floe-be
    local comm
    comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    [ "$comm" = floe-fe ] || [ "$comm" = floe-be ]
}

pids=()
names=()
# Backends first, the FE last, so the BEs do not log a dead master.
for f in "$dir"/run/be*.pid "$dir"/run/fe.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    name=$(basename "$f" .pid)
    if [[ $pid =~ ^[0-9]+$ ]] && is_floe "$pid"; then
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
        pids+=("$pid"); names+=("$name")
    else
        echo "stop-local: $name was not running"
    fi
    rm -f "$f"
done

deadline=$(( $(date +%s) + 30 ))
for k in "${!pids[@]}"; do
    pid=${pids[$k]}
    while is_floe "$pid" && [ "$(date +%s)" -lt $deadline ]; do sleep 0.1; done
    if is_floe "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        echo "stop-local: ${names[$k]} (pid $pid) did not stop in 30 s, killed"
    else
        echo "stop-local: stopped ${names[$k]} (pid $pid)"
    fi
done

if [ $purge -eq 1 ]; then
    rm -rf "$dir"
    echo "stop-local: removed $dir"
else
    echo "stop-local: data kept in $dir (deploy/stop-local.sh --purge removes it)"
fi
