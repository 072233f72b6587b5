# A floe cluster on loopback for integration scripts: one floe-fe and N
# floe-be, each on free ports under $T with a generated config, sharing one
# cluster token (mode 0600). Source it after common.sh:
#
#     . "$(dirname "$0")/lib/common.sh"
#     . "$(dirname "$0")/lib/cluster.sh"
#     cluster_init 3                      # token, dirs, ports, configs
#     cluster_start || { fail start; finish; }
#     fctl table create t --schema "k:int64,v:double" --key k --replicas 3
#     ...
#     cluster_finish                      # dumps node logs on failure, then finish
#
# Nodes are numbered: FE is "fe", BEs are 1..N. Per node:
#     be_start I / be_stop I / be_kill I / be_restart I / be_pause I / be_resume I
#     fe_start / fe_stop / fe_kill / fe_restart / fe_pause / fe_resume
# Fault points: set BE_FAULTS[I] (or FE_FAULTS) before a start, or pass the
# spec to the start function: be_start 2 "cooldown.after_upload=crash".
# Config: CLUSTER_FE_CONF / CLUSTER_BE_CONF hold extra "key = value" lines
# that are appended (and override the defaults below), e.g. a short
# cooldown_replica_timeout_s; BE_CONF_EXTRA[I] adds lines for BE I only
# (call cluster_write_confs and restart the node after changing it). Keys the binary does not list in --help-config
# are left out with a note in the node's log dir, so the harness keeps
# working while keys are added.
#
# Every node started here is registered with track_pid, so common.sh's exit
# trap stops it by pid, also when the script fails.

CLUSTER_N=0
FE_PID=
FE_RPC_PORT=
FE_HTTP_PORT=
FE_FAULTS=
declare -a BE_PID=() BE_RPC_PORT=() BE_HTTP_PORT=() BE_FAULTS=() BE_CONF_EXTRA=()
CLUSTER_FE_CONF=${CLUSTER_FE_CONF:-}
CLUSTER_BE_CONF=${CLUSTER_BE_CONF:-}
CLUSTER_TOKEN=$T/cluster.token
CLUSTER_REMOTE=$T/remote          # root of the embedded local object store
CLUSTER_READY_S=${CLUSTER_READY_S:-60}
# BE lines most cooldown scripts start CLUSTER_BE_CONF with: reports and
# cooldown checks every second, remote GC every 2 s with a 2 s grace.
FAST_COOL_BE_CONF="report_interval_s = 1
cooldown_check_interval_s = 1
remote_gc_interval_s = 2
remote_gc_grace_s = 2"

# keys_ok TABLE N: the scan returns keys 0..N-1, each exactly once.
keys_ok() {
    fctl scan "$1" --columns k --format csv | python3 -c '
import sys
n = int(sys.argv[1])
ks = [l.strip() for l in sys.stdin if l.strip() and l.strip() != "k"]
ok = sorted(int(k) for k in ks) == list(range(n))
if not ok:
    print("got %d keys, %d distinct, want 0..%d" % (len(ks), len(set(ks)), n - 1), file=sys.stderr)
sys.exit(0 if ok else 1)' "$2"
}

# gen START COUNT [SEED]: CSV rows of the test schema (see lib/gen_rows.py).
gen() { python3 "$FLOE_ROOT/tests/integration/lib/gen_rows.py" "$@"; }

_cl_log() { echo "# $*" >&2; }

# cluster_init N: token, directories, ports and configs for an FE and N BEs.
cluster_init() {
    CLUSTER_N=${1:-3}
    FLOE_FE_BIN=$(bin floe-fe) || return 1
    FLOE_BE_BIN=$(bin floe-be) || return 1
    FLOECTL_BIN=$(bin floectl) || return 1
    export FLOE_FE_BIN FLOE_BE_BIN FLOECTL_BIN
    (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$CLUSTER_TOKEN"; echo >>"$CLUSTER_TOKEN")
    chmod 0600 "$CLUSTER_TOKEN"
    mkdir -p "$CLUSTER_REMOTE" "$T/fe/meta"
    FE_RPC_PORT=$(free_port); FE_HTTP_PORT=$(free_port)
    local i
    for ((i = 1; i <= CLUSTER_N; i++)); do
        mkdir -p "$T/be$i/storage" "$T/be$i/cache"
        BE_RPC_PORT[$i]=$(free_port); BE_HTTP_PORT[$i]=$(free_port)
        BE_FAULTS[$i]=${BE_FAULTS[$i]:-}
    done
    _cl_unique_ports || return 1
    cluster_write_confs
    export FLOE_FE="127.0.0.1:$FE_RPC_PORT" FLOE_TOKEN_FILE="$CLUSTER_TOKEN"
}

# free_port can hand out the same port twice when asked in a row; re-pick.
_cl_unique_ports() {
    local tries=0 i all dup
    while :; do
        all="$FE_RPC_PORT $FE_HTTP_PORT"
        for ((i = 1; i <= CLUSTER_N; i++)); do all+=" ${BE_RPC_PORT[$i]} ${BE_HTTP_PORT[$i]}"; done
        dup=$(tr ' ' '\n' <<<"$all" | sort | uniq -d | head -1)
        [ -z "$dup" ] && return 0
        tries=$((tries + 1)); [ $tries -gt 20 ] && { _cl_log "cannot find distinct free ports"; return 1; }
        for ((i = 1; i <= CLUSTER_N; i++)); do
            [ "${BE_RPC_PORT[$i]}" = "$dup" ] && BE_RPC_PORT[$i]=$(free_port)
            [ "${BE_HTTP_PORT[$i]}" = "$dup" ] && BE_HTTP_PORT[$i]=$(free_port)
        done
        [ "$FE_HTTP_PORT" = "$dup" ] && FE_HTTP_PORT=$(free_port)
    done
}

# _cl_known_keys BIN: the keys BIN --help-config lists (empty if it cannot say).
_cl_known_keys() { "$1" --help-config 2>/dev/null | sed -n 's/^\([a-z0-9_]*\) = .*/\1/p'; }

# _cl_write_conf BIN FILE: reads "key = value" lines on stdin, keeps the last
# value of each key, drops keys BIN does not know (noted in FILE.dropped).
_cl_write_conf() {
    local binp=$1 file=$2 known
    known=$(_cl_known_keys "$binp" | tr '\n' ' ')
    python3 -c '
import sys
known = set(sys.argv[2].split())
order, vals, dropped = [], {}, []
for line in sys.stdin:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    k, _, v = line.partition("=")
    k, v = k.strip(), v.strip()
    if known and k not in known:
        if k not in dropped:
            dropped.append(k)
        continue
    if k not in vals:
        order.append(k)
    vals[k] = v
with open(sys.argv[1], "w") as f:
    f.write("# generated by tests/integration/lib/cluster.sh\n")
    for k in order:
        f.write("%s = %s\n" % (k, vals[k]))
with open(sys.argv[1] + ".dropped", "w") as f:
    for k in dropped:
        f.write(k + "\n")
' "$file" "$known"
}

# cluster_write_confs: (re)writes every node's config from the current ports
# and CLUSTER_FE_CONF / CLUSTER_BE_CONF (a restart picks up changes).
cluster_write_confs() {
    _cl_write_conf "$FLOE_FE_BIN" "$T/fe/fe.conf" <<EOF
rpc_port = $FE_RPC_PORT
http_port = $FE_HTTP_PORT
meta_dir = $T/fe/meta
cluster_token_file = $CLUSTER_TOKEN
heartbeat_interval_s = 1
backend_dead_after_s = 6
cooldown_replica_timeout_s = 30
cooldown_conf_check_interval_s = 1
$CLUSTER_FE_CONF
EOF
    local i
    for ((i = 1; i <= CLUSTER_N; i++)); do
        _cl_write_conf "$FLOE_BE_BIN" "$T/be$i/be.conf" <<EOF
fe_address = 127.0.0.1:$FE_RPC_PORT
rpc_port = ${BE_RPC_PORT[$i]}
http_port = ${BE_HTTP_PORT[$i]}
storage_root = $T/be$i/storage
cluster_token_file = $CLUSTER_TOKEN
report_interval_s = 1
cooldown_check_interval_s = 1
remote_gc_interval_s = 2
remote_gc_grace_s = 2
file_cache_dir = $T/be$i/cache
file_cache_capacity_mb = 256
$CLUSTER_BE_CONF
${BE_CONF_EXTRA[$i]:-}
EOF
    done
}

# ---- starting and stopping ----

# _cl_spawn VAR LOG FAULTS CMD...: starts CMD in the background with
# FLOE_FAULTS, logs appended to LOG, pid stored in VAR and tracked.
_cl_spawn() {
    local var=$1 log=$2 faults=$3; shift 3
    echo "==== start $(date +%T.%N) faults='$faults'" >>"$log"
    FLOE_FAULTS="$faults" "$@" >>"$log" 2>&1 </dev/null &
    track_pid "$!"
    printf -v "$var" '%s' "$!"
}

# http_ok PORT [PATH]: true when GET http://127.0.0.1:PORT/PATH answers 2xx.
http_ok() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1${2:-/health}"; }

fe_start() {
    [ $# -ge 1 ] && FE_FAULTS=$1
    _cl_spawn FE_PID "$T/fe/log" "$FE_FAULTS" "$FLOE_FE_BIN" --config "$T/fe/fe.conf"
}
be_start() {
    local i=$1
    [ $# -ge 2 ] && BE_FAULTS[$i]=$2
    local bepid
    _cl_spawn bepid "$T/be$i/log" "${BE_FAULTS[$i]}" "$FLOE_BE_BIN" --config "$T/be$i/be.conf"
    BE_PID[$i]=$bepid
}

# _cl_stop PID SIG: signals PID and reaps it (deadline 30 s, then KILL).
# Prints the exit status.
_cl_stop() {
    local pid=$1 sig=$2 rc=0
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -"$sig" "$pid" 2>/dev/null
    local deadline=$(( $(date +%s) + 30 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && { _cl_log "pid $pid ignored SIG$sig for 30 s, killing"; kill -KILL "$pid" 2>/dev/null; }
    { wait "$pid"; } 2>/dev/null; rc=$?
    echo "$rc"
}

fe_stop()  { _cl_stop "$FE_PID" TERM >/dev/null; FE_PID=; }
fe_kill()  { _cl_stop "$FE_PID" KILL >/dev/null; FE_PID=; }
be_stop()  { _cl_stop "${BE_PID[$1]}" TERM >/dev/null; BE_PID[$1]=; }
be_kill()  { _cl_stop "${BE_PID[$1]}" KILL >/dev/null; BE_PID[$1]=; }
fe_pause() { kill -STOP "$FE_PID"; }
fe_resume() { kill -CONT "$FE_PID"; }
be_pause() { kill -STOP "${BE_PID[$1]}"; }
be_resume() { kill -CONT "${BE_PID[$1]}"; }

# fe_restart [FAULTS] / be_restart I [FAULTS]: kill -9, start again, wait
# until the node serves again. Use fe_stop/fe_start for a graceful restart.
fe_restart() { fe_kill; fe_start "$@" && fe_wait_up; }
be_restart() { local i=$1; shift; be_kill "$i"; be_start "$i" "$@" && be_wait_up "$i"; }

# node_alive PID: true while the process runs (and is not a zombie).
node_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
fe_alive() { node_alive "$FE_PID"; }
be_alive() { node_alive "${BE_PID[$1]}"; }

# be_wait_exit I SECS: waits for BE I to exit on its own (a crash fault
# point), reaps it and sets EXIT_RC to its exit status (86 = fault crash).
# Returns 1 (EXIT_RC empty) when it still runs at the deadline. Do not call
# it in $(...): the reaping must happen in this shell.
EXIT_RC=
_cl_gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
be_wait_exit() {
    local i=$1 secs=$2 pid=${BE_PID[$1]}
    EXIT_RC=
    wait_for "$secs" _cl_gone "$pid" || return 1
    { wait "$pid"; } 2>/dev/null; EXIT_RC=$?
    BE_PID[$i]=
}
fe_wait_exit() {
    local secs=$1 pid=$FE_PID
    EXIT_RC=
    wait_for "$secs" _cl_gone "$pid" || return 1
    { wait "$pid"; } 2>/dev/null; EXIT_RC=$?
    FE_PID=
}

# ---- readiness ----

_fe_up() { fe_alive && port_open "$FE_RPC_PORT" && http_ok "$FE_HTTP_PORT"; }
_be_up() { be_alive "$1" && port_open "${BE_RPC_PORT[$1]}" && http_ok "${BE_HTTP_PORT[$1]}"; }
fe_wait_up() { wait_for "$CLUSTER_READY_S" _fe_up || { _cl_log "fe did not come up"; return 1; }; }
be_wait_up() { wait_for "$CLUSTER_READY_S" _be_up "$1" || { _cl_log "be$1 did not come up"; return 1; }; }

# backends_alive: how many backends the FE lists as alive.
backends_alive() {
    fctl --json backends 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d.get("backends", d) if isinstance(d, dict) else d
print(sum(1 for b in rows if b.get("alive") in (True, "true", 1, "yes")))'
}
_cl_n_alive() { [ "$(backends_alive)" = "$1" ]; }
# cluster_wait_alive N [SECS]: until the FE sees exactly N alive backends.
cluster_wait_alive() { wait_for "${2:-$CLUSTER_READY_S}" _cl_n_alive "$1"; }

# cluster_start: starts the FE and every BE and waits until the FE lists all
# of them alive.
cluster_start() {
    local i
    fe_start || return 1
    fe_wait_up || return 1
    for ((i = 1; i <= CLUSTER_N; i++)); do be_start "$i" || return 1; done
    for ((i = 1; i <= CLUSTER_N; i++)); do be_wait_up "$i" || return 1; done
    cluster_wait_alive "$CLUSTER_N" || { _cl_log "FE does not list $CLUSTER_N alive backends"; return 1; }
}

# ---- client and checks ----

# fctl ARGS...: floectl against this cluster.
fctl() { "$FLOECTL_BIN" --fe "127.0.0.1:$FE_RPC_PORT" "$@"; }

# scan_sum TABLE: "ROWS SHA256" of a full scan (CSV, header dropped),
# independent of row order.
scan_sum() {
    local out
    out=$(fctl scan "$1" --format csv) || return 1
    printf '%s\n' "$out" | python3 -c '
import hashlib, sys
rows = sorted(l for l in sys.stdin.read().splitlines()[1:] if l)
print(len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())'
}

# tablets_json TABLE: floectl tablets TABLE --json, as printed.
tablets_json() { fctl --json tablets "$1"; }

# tablets_field TABLE EXPR: evaluates a Python expression over the list of
# replica rows `r` (dicts as floectl prints them) and prints the result, e.g.
#   tablets_field t 'all(x["local_bytes"] == 0 for x in r)'
tablets_field() {
    tablets_json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d.get("tablets", d.get("replicas", d)) if isinstance(d, dict) else d
v = eval(sys.argv[1])
print(json.dumps(v) if not isinstance(v, str) else v)' "$2"
}
# tablets_true TABLE EXPR: exit 0 when EXPR is true.
tablets_true() { [ "$(tablets_field "$1" "$2" 2>/dev/null)" = true ]; }

# be_index BACKEND_ID: the harness index (1..N) of the BE the FE knows as
# BACKEND_ID (matched by RPC port).
be_index() {
    local port i
    port=$(fctl --json backends | python3 -c '
import json, sys
print([b["port"] for b in json.load(sys.stdin) if b["backend_id"] == int(sys.argv[1])][0])' "$1") || return 1
    for ((i = 1; i <= CLUSTER_N; i++)); do [ "${BE_RPC_PORT[$i]}" = "$port" ] && { echo "$i"; return 0; }; done
    return 1
}
# uploader_be TABLE [TABLET_INDEX]: harness index of the BE holding the
# cooldown replica of the table's first (or given) tablet, as the FE sees it.
uploader_be() {
    local b
    b=$(tablets_field "$1" "[x['backend'] for x in r if x['tablet'] == sorted({y['tablet'] for y in r})[${2:-0}] and x['replica'] == x['fe_cooldown_replica_id']][0]") || return 1
    be_index "$b"
}
# follower_be TABLE [TABLET_INDEX]: harness index of one BE holding a
# replica of that tablet that is not the cooldown replica.
follower_be() {
    local b
    b=$(tablets_field "$1" "[x['backend'] for x in r if x['tablet'] == sorted({y['tablet'] for y in r})[${2:-0}] and x['replica'] != x['fe_cooldown_replica_id']][0]") || return 1
    be_index "$b"
}
# table_cooled TABLE: every replica reported, everything up to its version is
# remote, no local bytes left, and all replicas of a tablet agree on the meta.
table_cooled() {
    tablets_true "$1" 'all(x.get("reported", True) and x["cooldowned_version"] >= x["version"] and x["local_bytes"] == 0 for x in r) and all(len({x["cooldown_meta_id"] for x in r if x["tablet"] == t}) == 1 for t in {x["tablet"] for x in r})'
}
# remote_check TABLE [--no-orphans]: every object the current remote metas
# and every replica's own tablet meta reference exists in the local object
# store, with its size (see remote_check.py).
remote_check() {
    local t=$1 i metas=(); shift
    for ((i = 1; i <= CLUSTER_N; i++)); do metas+=(--be-meta "$T/be$i/storage/meta"); done
    tablets_json "$t" | python3 "$FLOE_ROOT/tests/integration/lib/remote_check.py" "$CLUSTER_REMOTE" "${metas[@]}" "$@"
}
# no_orphans TABLE: remote_check with no unreferenced object left.
no_orphans() { remote_check "$1" --no-orphans --quiet >/dev/null 2>&1; }

# local_objects [PREFIX]: number of objects under the local object store root.
local_objects() {
    local d=$CLUSTER_REMOTE${1:+/$1}
    [ -d "$d" ] || { echo 0; return 0; }
    find "$d" -type f ! -name '.*' | wc -l
}

# aws_s3 ENDPOINT_URL ACCESS SECRET ARGS...: Debian's awscli (an independent
# client) against a test S3 server.
aws_s3() {
    local ep=$1 ak=$2 sk=$3; shift 3
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=us-east-1 \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        /usr/bin/aws --endpoint-url "$ep" "$@"
}
# s3_objects ENDPOINT_URL ACCESS SECRET BUCKET [PREFIX]: number of objects.
s3_objects() {
    local ep=$1 ak=$2 sk=$3 b=$4 p=${5:-}
    aws_s3 "$ep" "$ak" "$sk" s3api list-objects-v2 --bucket "$b" ${p:+--prefix "$p"} \
        --query 'length(Contents || `[]`)' --output text
}

# s3_listing ENDPOINT_URL ACCESS SECRET BUCKET PREFIX OUT: the awscli
# list-objects-v2 JSON of BUCKET/PREFIX/ into OUT ({} when empty).
s3_listing() {
    aws_s3 "$1" "$2" "$3" s3api list-objects-v2 --bucket "$4" --prefix "$5/" --output json >"$6" || return 1
    [ -s "$6" ] || echo '{}' >"$6"
}
# s3_keys ENDPOINT_URL ACCESS SECRET BUCKET PREFIX: "KEY SIZE" lines, sorted.
s3_keys() {
    s3_listing "$@" "$T/.s3_keys.json" || return 1
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1])) or {}
for o in sorted(d.get("Contents") or [], key=lambda o: o["Key"]):
    print(o["Key"], o["Size"])' "$T/.s3_keys.json"
}
# remote_check_s3 TABLE ENDPOINT_URL ACCESS SECRET BUCKET PREFIX [OPTS]:
# remote_check (sizes from an awscli listing, contents not read) for a table
# cooled to an S3 resource with that bucket and prefix.
remote_check_s3() {
    local t=$1 i metas=()
    s3_listing "$2" "$3" "$4" "$5" "$6" "$T/.rc_listing.json" || return 1
    shift 6
    for ((i = 1; i <= CLUSTER_N; i++)); do metas+=(--be-meta "$T/be$i/storage/meta"); done
    tablets_json "$t" | python3 "$FLOE_ROOT/tests/integration/lib/remote_check.py" --s3 "$T/.rc_listing.json" "${metas[@]}" "$@"
}

# metric PORT NAME: the value of one series on a node's /metrics (0 if absent).
metric() {
    curl -fsS -m 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}
# metric_sum PORT FAMILY [LABEL_SUBSTRING]: the sum of every series of FAMILY
# (optionally only those whose labels contain LABEL_SUBSTRING).
metric_sum() {
    curl -fsS -m 5 "http://127.0.0.1:$1/metrics" | awk -v f="$2" -v l="${3:-}" '
        { n = $1; i = index(n, "{"); fam = i ? substr(n, 1, i - 1) : n }
        fam == f && (l == "" || index(n, l)) { s += $2 } END { printf "%d\n", s }'
}

# cluster_dump_logs: the last lines of every node log (on failure).
cluster_dump_logs() {
    local f
    for f in "$T/fe/log" "$T"/be*/log; do
        [ -f "$f" ] || continue
        echo "---- ${f#$T/} (last 40 lines)" >&2
        tail -40 "$f" >&2
    done
}

# cluster_finish: like finish, with node logs printed when a case failed.
cluster_finish() {
    [ "$_floe_failed" -ne 0 ] && cluster_dump_logs
    finish
}
