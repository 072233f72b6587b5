# Shared helpers for floe's integration scripts. Source it first:
#
#     . "$(dirname "$0")/lib/common.sh"
#
# It gives every script: a temp dir ($T, removed at exit unless
# FLOE_KEEP_TMP=1), PASS/FAIL reporting that tests/run.sh counts, polling with
# a deadline (never sleep to synchronise), a free loopback port finder, and a
# registry of started processes that are all killed by pid at exit, also when
# the script fails or is interrupted.

set -uo pipefail

FLOE_ROOT=${FLOE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
FLOE_BUILD=${FLOE_BUILD:-$FLOE_ROOT/build-test}
export FLOE_ROOT FLOE_BUILD

T=$(mktemp -d "${TMPDIR:-/tmp}/floe-it-XXXXXX")
export T
_floe_pids=()
_floe_failed=0
_floe_passed=0

# Registers a pid to be killed at exit.
track_pid() { _floe_pids+=("$1"); }

# Kills the process group of a tracked pid if it is still there.
_kill_pid() {
    local pid=$1 sig=${2:-TERM}
    kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null
}

cleanup() {
    local pid
    for pid in "${_floe_pids[@]}"; do kill -CONT "$pid" 2>/dev/null; _kill_pid "$pid" TERM; done
    local deadline=$(( $(date +%s) + 10 ))
    for pid in "${_floe_pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do
            wait "$pid" 2>/dev/null || true
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        _kill_pid "$pid" KILL
    done
    if [ "${FLOE_KEEP_TMP:-0}" = 1 ] || [ $_floe_failed -ne 0 -a "${FLOE_KEEP_TMP_ON_FAIL:-0}" = 1 ]; then
        echo "kept temp dir $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS $*"; _floe_passed=$((_floe_passed + 1)); }
fail() { echo "FAIL $*"; _floe_failed=$((_floe_failed + 1)); }

# check NAME CMD...: runs CMD, PASS NAME when it exits 0, FAIL otherwise.
check() {
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it exits 0 (returns 0)
# or the deadline passes (returns 1). This is synchronisation, not a sleep.
wait_for() {
    local secs=$1; shift
    local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
        sleep 0.1
    done
}

# free_port: prints a loopback TCP port nobody listens on now.
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# port_open PORT: true when something accepts on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# bin NAME: path of a built binary (floe-fe, floe-be, floectl, ...).
bin() {
    local p
    p=$(find "$FLOE_BUILD" -name "$1" -type f -perm -u+x 2>/dev/null | head -1)
    [ -n "$p" ] || { echo "no binary $1 under $FLOE_BUILD (build first)" >&2; return 1; }
    echo "$p"
}

# finish: prints the script's tally and exits non-zero when anything failed.
finish() {
    echo "# $_floe_passed passed, $_floe_failed failed"
    [ $_floe_failed -eq 0 ] && [ $_floe_passed -gt 0 ]
    exit $?
}

# adapt_conf SRC DST KEY=VALUE...: copies a config file with only KEY lines
# replaced (every other line byte for byte); fails if SRC does not set a KEY.
adapt_conf() {
    python3 - "$@" <<'PY'
import re, sys
src, dst, subs = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
lines = open(src).read().split("\n")
seen = set()
for i, l in enumerate(lines):
    m = re.match(r"^([a-z0-9_]+)\s*=", l)
    if m and m.group(1) in subs:
        seen.add(m.group(1))
        lines[i] = "%s = %s" % (m.group(1), subs[m.group(1)])
missing = set(subs) - seen
if missing:
    sys.exit("%s does not set %s" % (src, " ".join(sorted(missing))))
open(dst, "w").write("\n".join(lines))
PY
}
