# Real S3 servers on loopback for floe's tests: OpenStack Swift with its S3
# API (single node, the strict peer that verifies SigV4) and s3rver (npm, the
# quick peer). Source it after lib/common.sh:
#
#     . "$(dirname "$0")/lib/common.sh"
#     . "$(dirname "$0")/lib/s3servers.sh"
#     s3srv_start_swift "$T/swift" || exit 1     # exports SWIFT_* below
#     s3srv_start_s3rver "$T/s3rver" || exit 1   # exports S3RVER_* below
#
# Each start function picks free ports, writes configs and logs under the
# given directory, waits for health with a deadline, creates a bucket and
# exports <P>_ENDPOINT, <P>_PORT, <P>_REGION, <P>_BUCKET, <P>_ACCESS_KEY,
# <P>_SECRET_KEY (P = SWIFT or S3RVER). Every process is registered with
# track_pid and also recorded in <dir>/*.pid, so s3srv_stop_all (installed
# in the EXIT trap) stops processes restarted by other shells too.
#
# Restart support (for "server killed mid-transfer" tests), usable from any
# process:  bash s3servers.sh ctl <dir> stop|start
# stops (SIGKILL) or starts the front process (Swift's proxy, or s3rver)
# recorded in <dir>, waiting for health on start.

S3SRV_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3SRV_ROOT=$(cd "$S3SRV_LIB/../../.." && pwd)
S3SRV_PY=/usr/bin/python3            # Debian's python has swift's modules
S3SRV_DEADLINE=${S3SRV_DEADLINE:-60} # seconds to wait for health
_s3srv_dirs=()
_s3srv_shm=()   # tmpfs dirs to remove even if the state dir is gone

_s3srv_port() {
    "$S3SRV_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _s3srv_wait SECONDS CMD...: poll with a deadline.
_s3srv_wait() {
    local secs=$1; shift
    local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
        sleep 0.1
    done
}

_s3srv_http_ok() { # URL EXPECTED_BODY_SUBSTRING(optional)
    local out
    out=$(curl -s -m 2 "$1") || return 1
    [ -z "${2:-}" ] || [[ $out == *"$2"* ]]
}

_s3srv_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# _s3srv_spawn PIDFILE LOG CMD...: starts CMD in the background, records its pid.
_s3srv_spawn() {
    local pidfile=$1 log=$2; shift 2
    "$@" >>"$log" 2>&1 </dev/null &
    local pid=$!
    disown "$pid" 2>/dev/null  # no "Killed" job report when it is stopped on purpose
    echo "$pid" >"$pidfile"
    if declare -F track_pid >/dev/null; then track_pid "$pid"; fi
}

_s3srv_kill() { # PIDFILE [SIG]
    local f=$1 sig=${2:-TERM} pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$sig" "$pid" 2>/dev/null
        _s3srv_wait 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}

# ---- Swift ----

_s3srv_swift_conf() { # DIR SRV
    local d=$1 srv=$2 user
    user=$(id -un)
    mkdir -p "$d/etc" "$srv/sdb1" "$d/log" "$d/run"
    cat >"$d/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = floe-test-suffix
swift_hash_path_prefix = floe-test-prefix
[storage-policy:0]
name = Policy-0
default = yes
EOF
    local kind port
    for kind in account container object; do
        case $kind in account) port=$SWIFT_ACCOUNT_PORT ;; container) port=$SWIFT_CONTAINER_PORT ;; object) port=$SWIFT_OBJECT_PORT ;; esac
        cat >"$d/etc/$kind-server.conf" <<EOF
[DEFAULT]
devices = $srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $d/etc
log_name = $kind
log_level = WARNING
log_address = $d/run/nolog
[pipeline:main]
pipeline = healthcheck $kind-server
[filter:healthcheck]
use = egg:swift#healthcheck
[app:$kind-server]
use = egg:swift#$kind
EOF
        (cd "$d/etc" && swift-ring-builder $kind.builder create 8 1 1 >/dev/null &&
            swift-ring-builder $kind.builder add r1z1-127.0.0.1:$port/sdb1 100 >/dev/null &&
            swift-ring-builder $kind.builder rebalance >/dev/null) || return 1
    done
    cat >"$d/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SWIFT_PORT
workers = 0
user = $user
swift_dir = $d/etc
log_name = proxy
log_level = WARNING
log_address = $d/run/nolog
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
multi_delete_concurrency = 16
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$SWIFT_MEMCACHED_PORT
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
}

_s3srv_swift_proxy_start() { # DIR
    local d=$1
    # shellcheck disable=SC1091
    . "$d/env"
    _s3srv_spawn "$d/proxy.pid" "$d/log/proxy.log" "$S3SRV_PY" /usr/bin/swift-proxy-server "$d/etc/proxy-server.conf"
    if ! _s3srv_wait "$S3SRV_DEADLINE" _s3srv_http_ok "http://127.0.0.1:$SWIFT_PORT/healthcheck" OK; then
        echo "s3servers: Swift proxy did not become healthy on port $SWIFT_PORT within ${S3SRV_DEADLINE}s; log:" >&2
        tail -20 "$d/log/proxy.log" >&2
        return 1
    fi
}

# s3srv_start_swift DIR: memcached + account/container/object/proxy servers.
s3srv_start_swift() {
    local d=$1
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    SWIFT_PORT=$(_s3srv_port); SWIFT_ACCOUNT_PORT=$(_s3srv_port)
    SWIFT_CONTAINER_PORT=$(_s3srv_port); SWIFT_OBJECT_PORT=$(_s3srv_port)
    SWIFT_MEMCACHED_PORT=$(_s3srv_port)
    # object data on tmpfs when there is one: Swift fsyncs every object and
    # tombstone, which makes a test run minutes slower on a busy disk
    local srv=$d/srv
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        srv=$(mktemp -d /dev/shm/floe-swift.XXXXXX) || srv=$d/srv
    fi
    case $srv in /dev/shm/*) _s3srv_shm+=("$srv") ;; esac
    _s3srv_swift_conf "$d" "$srv" || { echo "s3servers: building Swift rings in $d failed" >&2; return 1; }
    cat >"$d/env" <<EOF
SWIFT_PORT=$SWIFT_PORT
SWIFT_ACCOUNT_PORT=$SWIFT_ACCOUNT_PORT
SWIFT_CONTAINER_PORT=$SWIFT_CONTAINER_PORT
SWIFT_OBJECT_PORT=$SWIFT_OBJECT_PORT
SWIFT_MEMCACHED_PORT=$SWIFT_MEMCACHED_PORT
S3SRV_KIND=swift
SWIFT_SRV=$srv
EOF
    _s3srv_dirs+=("$d")
    _s3srv_spawn "$d/memcached.pid" "$d/log/memcached.log" memcached -l 127.0.0.1 -p "$SWIFT_MEMCACHED_PORT" -U 0 -m 64 -u "$(id -un)"
    local kind port
    for kind in account container object; do
        _s3srv_spawn "$d/$kind.pid" "$d/log/$kind.log" "$S3SRV_PY" "/usr/bin/swift-$kind-server" "$d/etc/$kind-server.conf"
    done
    for port in $SWIFT_ACCOUNT_PORT $SWIFT_CONTAINER_PORT $SWIFT_OBJECT_PORT; do
        if ! _s3srv_wait "$S3SRV_DEADLINE" _s3srv_http_ok "http://127.0.0.1:$port/healthcheck" OK; then
            echo "s3servers: Swift storage server on port $port not healthy within ${S3SRV_DEADLINE}s" >&2
            for f in "$d"/log/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
            return 1
        fi
    done
    _s3srv_swift_proxy_start "$d" || return 1
    export SWIFT_ENDPOINT="http://127.0.0.1:$SWIFT_PORT" SWIFT_PORT SWIFT_REGION=us-east-1
    export SWIFT_BUCKET=floe-test SWIFT_ACCESS_KEY=test:tester SWIFT_SECRET_KEY=testing SWIFT_DIR=$d
    # create the bucket (a fresh Swift has none); the account may need a moment,
    # and a retry after a lost answer finds the bucket already there
    if ! _s3srv_wait "$S3SRV_DEADLINE" _s3srv_swift_bucket; then
        echo "s3servers: creating bucket $SWIFT_BUCKET on Swift failed:" >&2
        s3srv_aws SWIFT s3api create-bucket --bucket "$SWIFT_BUCKET" >&2
        return 1
    fi
}

_s3srv_swift_bucket() {
    s3srv_aws SWIFT s3api create-bucket --bucket "$SWIFT_BUCKET" ||
        s3srv_aws SWIFT s3api head-bucket --bucket "$SWIFT_BUCKET"
}

# ---- s3rver ----

_s3srv_s3rver_start() { # DIR
    local d=$1
    # shellcheck disable=SC1091
    . "$d/env"
    local bin=$S3SRV_ROOT/tests/.npm/node_modules/.bin/s3rver
    [ -x "$bin" ] || { echo "s3servers: $bin missing (run deploy/install-deps.sh test)" >&2; return 1; }
    _s3srv_spawn "$d/s3rver.pid" "$d/log/s3rver.log" env NODE_OPTIONS=--openssl-legacy-provider \
        node "$bin" -d "$d/data" -a 127.0.0.1 -p "$S3RVER_PORT" --silent --no-vhost-buckets \
        --configure-bucket "$S3RVER_BUCKET"
    if ! _s3srv_wait "$S3SRV_DEADLINE" _s3srv_http_ok "http://127.0.0.1:$S3RVER_PORT/"; then
        echo "s3servers: s3rver did not answer on port $S3RVER_PORT within ${S3SRV_DEADLINE}s; log:" >&2
        tail -20 "$d/log/s3rver.log" >&2
        return 1
    fi
}

# s3srv_start_s3rver DIR
s3srv_start_s3rver() {
    local d=$1
    mkdir -p "$d/data" "$d/log"
    d=$(cd "$d" && pwd)
    S3RVER_PORT=$(_s3srv_port)
    S3RVER_BUCKET=floe-test
    printf 'S3RVER_PORT=%s\nS3RVER_BUCKET=%s\nS3SRV_KIND=s3rver\n' "$S3RVER_PORT" "$S3RVER_BUCKET" >"$d/env"
    _s3srv_dirs+=("$d")
    _s3srv_s3rver_start "$d" || return 1
    export S3RVER_ENDPOINT="http://127.0.0.1:$S3RVER_PORT" S3RVER_PORT S3RVER_REGION=us-east-1
    export S3RVER_BUCKET S3RVER_ACCESS_KEY=S3RVER S3RVER_SECRET_KEY=S3RVER S3RVER_DIR=$d
}

# ---- helpers ----

# s3srv_aws P ARGS...: runs Debian's awscli against server P (SWIFT|S3RVER).
s3srv_aws() {
    local p=$1; shift
    local ep=${p}_ENDPOINT ak=${p}_ACCESS_KEY sk=${p}_SECRET_KEY
    [ -n "${!ep:-}" ] || { local port=${p}_PORT; ep=_S3SRV_TMP_EP; _S3SRV_TMP_EP="http://127.0.0.1:${!port}"; }
    local akv=${!ak:-} skv=${!sk:-}
    [ -n "$akv" ] || { [ "$p" = SWIFT ] && akv=test:tester skv=testing || { akv=S3RVER; skv=S3RVER; }; }
    AWS_ACCESS_KEY_ID=$akv AWS_SECRET_ACCESS_KEY=$skv AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
        /usr/bin/aws --endpoint-url "${!ep}" "$@"
}

# s3srv_floe_args P: objstore key=value arguments for server P (secrets via env).
s3srv_floe_args() {
    local p=$1 ep=${1}_ENDPOINT b=${1}_BUCKET r=${1}_REGION
    echo "type=s3 endpoint=${!ep} bucket=${!b} region=${!r} path_style=true credentials=env"
}

# s3srv_env P CMD...: runs CMD with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of P.
s3srv_env() {
    local p=$1; shift
    local ak=${p}_ACCESS_KEY sk=${p}_SECRET_KEY
    AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} "$@"
}

# s3srv_ctl DIR stop|start: kill / restart the front process of a server.
s3srv_ctl() {
    local d=$1 verb=$2
    # shellcheck disable=SC1091
    . "$d/env"
    local front=$d/proxy.pid
    [ "$S3SRV_KIND" = s3rver ] && front=$d/s3rver.pid
    case $verb in
    stop) _s3srv_kill "$front" KILL ;;
    start)
        if [ "$S3SRV_KIND" = s3rver ]; then _s3srv_s3rver_start "$d"; else _s3srv_swift_proxy_start "$d"; fi ;;
    *) echo "s3servers: ctl verb must be stop or start, not '$verb'" >&2; return 2 ;;
    esac
}

# s3srv_stop DIR: stops every process recorded under DIR.
s3srv_stop() {
    local d=$1 f
    for f in "$d"/proxy.pid "$d"/s3rver.pid "$d"/object.pid "$d"/container.pid "$d"/account.pid "$d"/memcached.pid; do
        _s3srv_kill "$f" TERM
    done
    local srv
    srv=$(sed -n 's/^SWIFT_SRV=//p' "$d/env" 2>/dev/null)
    case $srv in /dev/shm/floe-swift.*) rm -rf "$srv" ;; esac
}

# s3srv_stop_all: stops every server started by this shell (also restarted ones).
s3srv_stop_all() {
    local d
    for d in "${_s3srv_dirs[@]}"; do s3srv_stop "$d"; done
    for d in "${_s3srv_shm[@]}"; do rm -rf "$d"; done
}

# executed (not sourced): bash s3servers.sh ctl DIR stop|start
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    ctl) [ $# -eq 3 ] || { echo "usage: $0 ctl DIR stop|start" >&2; exit 2; }
         s3srv_ctl "$2" "$3" ;;
    *) echo "usage: $0 ctl DIR stop|start (or source it)" >&2; exit 2 ;;
    esac
fi
