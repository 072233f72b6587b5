#!/usr/bin/env bash
# Soak: a 3-BE cluster on loopback, built with ASan+UBSan, under concurrent
# loads, scans, cooling (5 s ttl to the embedded local object store),
# compaction and remote GC for a bounded time. Not part of tests/run.sh.
#
#   tests/soak.sh [MINUTES]     default 5, at most 720
#
# Env: FLOE_BUILD=DIR uses an existing build instead of building build-asan;
# FLOE_KEEP_TMP=1 keeps the cluster's directory; SOAK_BE_CONF adds BE config
# lines (e.g. "cumulative_min_rowsets = 2" for more compaction);
# SOAK_COOL_LAG_S (default 45) is how far cooling may trail the loads.
#
# Checks continuously: every scan returns each loaded key exactly once (no
# loss, no duplicates; a scan running beside a load sees the rows before or
# after it, never a part). Cooling keeps up with the loads: when they stop,
# every replica (uploader and followers) has cooled down every version that
# was loaded at least SOAK_COOL_LAG_S (45) seconds earlier, at most half of
# the bytes are still local, and the remote store held more objects than at
# the start. At the end: a final full verification, objects present
# remotely, no sanitizer report in any node log, every node alive.
# Prints one summary line and a JSON object; exits non-zero on any error.
set -uo pipefail
minutes=${1:-5}
[[ $minutes =~ ^[0-9]+$ ]] && [ "$minutes" -ge 1 ] && [ "$minutes" -le 720 ] ||
    { echo "soak: MINUTES must be 1..720, got '$minutes'" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${FLOE_BUILD:-}" ]; then
    FLOE_BUILD=$root/build-asan
    if [ ! -f "$FLOE_BUILD/build.ninja" ]; then
        meson setup "$FLOE_BUILD" -Dfaults=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
            { echo "soak: meson setup failed" >&2; exit 1; }
    fi
    ninja -C "$FLOE_BUILD" -j2 >/dev/null || { echo "soak: build failed (ninja -C $FLOE_BUILD)" >&2; exit 1; }
fi
export FLOE_BUILD FLOE_ROOT=$root
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0

. "$root/tests/integration/lib/common.sh"
. "$root/tests/integration/lib/cluster.sh"

CLUSTER_READY_S=120
CLUSTER_BE_CONF="remote_gc_grace_s = 5
remote_gc_interval_s = 5
compaction_interval_s = 2
${SOAK_BE_CONF:-}"
cluster_init 3
cluster_start || { echo "soak: cluster did not start" >&2; cluster_dump_logs; exit 1; }

errors=0
err() { echo "soak: ERROR $*" >&2; errors=$((errors + 1)); }
fctl resource create soakres --type local --root "$CLUSTER_REMOTE" >/dev/null || err "resource create"
fctl policy create soak5s --resource soakres --cooldown-ttl 5s >/dev/null || err "policy create"
fctl table create soak --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 4 --replicas 3 \
    --policy soak5s >/dev/null || err "table create"

deadline=$(( $(date +%s) + minutes * 60 ))
S=$T/soak; mkdir -p "$S"
# put FILE VALUE: atomic replace, so a concurrent reader never sees it empty
put() { echo "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }
put "$S/committed" 0           # keys 0..committed-1 are loaded and visible
put "$S/loading" 0
mkdir -p "$S/samples"
lag=${SOAK_COOL_LAG_S:-45}
# sample: the tablets as the FE sees them, with the time and the object count
sample() {
    local now; now=$(date +%s)
    fctl --json tablets soak >"$S/samples/$now.tmp" 2>/dev/null && echo "$(local_objects)" >"$S/samples/$now.objects" &&
        mv "$S/samples/$now.tmp" "$S/samples/$now.json"
    rm -f "$S/samples/$now.tmp"
}
sample

# loader: batches of 2000 rows with the next keys; committed moves only after
# floectl reports success
loader() {
    local next=0 n=2000 errs=0
    while [ "$(date +%s)" -lt "$deadline" ]; do
        gen "$next" "$n" >"$S/batch.csv"
        put "$S/loading" "$((next + n))"
        if fctl load soak "$S/batch.csv" >/dev/null 2>>"$S/loader.err"; then
            next=$((next + n)); put "$S/committed" "$next"
        else
            errs=$((errs + 1))
            # a failed load must leave nothing visible: the next batch reuses the keys
        fi
    done
    echo "$errs" >"$S/loader.errors"
}

# verify LO HI: the scan succeeds and has keys 0..K-1 once each, for some
# LO <= K <= HI. Returns 2 when the scan itself failed (an error, not wrong rows).
verify() {
    if ! fctl scan soak --columns k --format csv >"$S/scan.out" 2>>"$S/scan.err"; then
        echo "scan failed: $(tail -1 "$S/scan.err")" >>"$S/scan.bad"
        return 2
    fi
    python3 -c '
import sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
ks = sorted(int(l) for l in open(sys.argv[3]) if l.strip() and l.strip() != "k")
k = len(ks)
ok = lo <= k <= hi and ks == list(range(k))
if not ok:
    print("scan: %d rows, %d distinct, want 0..K-1 with %d <= K <= %d" % (k, len(set(ks)), lo, hi), file=sys.stderr)
print(k)
sys.exit(0 if ok else 1)' "$1" "$2" "$S/scan.out" 2>>"$S/scan.bad"
}

scanner() {
    local scans=0 bad=0 failed=0 lo hi rc
    while [ "$(date +%s)" -lt "$deadline" ]; do
        lo=$(cat "$S/committed"); hi=$(cat "$S/loading")
        verify "$lo" "$((hi + 2000))" >/dev/null; rc=$?
        case $rc in 0) scans=$((scans + 1)) ;; 2) failed=$((failed + 1)) ;; *) bad=$((bad + 1)) ;; esac
    done
    echo "$scans $bad $failed" >"$S/scanner.out"
}

loader & lp=$!; track_pid $lp
scanner & sp=$!; track_pid $sp
while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 10
    sample
    printf 'soak: %4ds left, rows committed %s, remote objects %s\n' $(( deadline - $(date +%s) )) \
        "$(cat "$S/committed")" "$(local_objects)"
done
wait $lp; wait $sp
sample

# cooling under load (before the loads' tail is given time to cool): see the header
cooling=$(python3 - "$S/samples" "$lag" <<'PY'
import glob, json, os, sys
d, lag = sys.argv[1], int(sys.argv[2])
samples = []
for p in sorted(glob.glob(os.path.join(d, "*.json")), key=lambda p: int(os.path.basename(p)[:-5])):
    ts = int(os.path.basename(p)[:-5])
    j = json.load(open(p))
    rows = j.get("tablets", j.get("replicas", j)) if isinstance(j, dict) else j
    objs = int(open(p[:-5] + ".objects").read().strip() or 0)
    samples.append((ts, [r for r in rows if r.get("reported", True)], objs))
problems = []
end_ts, end_rows, _ = samples[-1]
ck = [s for s in samples if s[0] <= end_ts - lag]
lag_checked = 0
if ck:
    ck_ts, ck_rows, _ = ck[-1]
    want = {}
    for r in ck_rows:
        want[r["tablet"]] = max(want.get(r["tablet"], 0), r["version"])
    for r in end_rows:
        w = want.get(r["tablet"])
        if w is None:
            continue
        lag_checked += 1
        if r["cooldowned_version"] < w:
            problems.append("tablet %d replica %d: cooled up to version %d, but version %d was loaded %d s before the loads stopped"
                            % (r["tablet"], r["replica"], r["cooldowned_version"], w, end_ts - ck_ts))
local = sum(r["local_bytes"] for r in end_rows)
total = local + sum(r.get("remote_bytes", 0) for r in end_rows)
local_pct = 100.0 * local / total if total else 100.0
if local_pct > 50:
    problems.append("%.0f%% of the replicas' bytes are still local when the loads stop" % local_pct)
objs = [s[2] for s in samples]
if max(objs) <= objs[0]:
    problems.append("remote objects never grew above %d" % objs[0])
print(json.dumps({"lag_checked": lag_checked, "local_pct": round(local_pct, 1), "objects_first": objs[0],
                  "objects_max": max(objs), "problems": problems}))
PY
) || cooling='{"problems": ["cooling check failed to run"]}'
echo "soak: cooling: $cooling"
cool_problems=$(python3 -c 'import json,sys; [print(p) for p in json.loads(sys.argv[1])["problems"]]' "$cooling")
[ -z "$cool_problems" ] || while IFS= read -r p; do err "cooling: $p"; done <<<"$cool_problems"
local_pct=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("local_pct", 100))' "$cooling")
objects_max=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("objects_max", 0))' "$cooling")

committed=$(cat "$S/committed")
read -r scans badscans failedscans <"$S/scanner.out"
loaderr=$(cat "$S/loader.errors")
[ "$badscans" -eq 0 ] || err "$badscans scans returned wrong rows without an error ($(grep -m1 '^scan:' "$S/scan.bad"))"
[ "$failedscans" -eq 0 ] || err "$failedscans scans failed ($(grep -m1 '^scan failed' "$S/scan.bad"))"
# let the last rows cool down, then verify once more
wait_for 60 tablets_true soak 'all(x.get("cooldowned_version", 0) > 0 for x in r)' || err "no tablet cooled down"
verified=$(verify "$committed" "$committed") || err "final scan: $(tail -1 "$S/scan.bad")"
objects=$(local_objects)
[ "$objects" -gt 0 ] || err "no objects in the remote store"
for i in 1 2 3; do be_alive $i || err "be$i died"; done
fe_alive || err "fe died"
san=$(grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T"/fe/log "$T"/be*/log 2>/dev/null | wc -l)
[ "$san" -eq 0 ] || err "sanitizer reports in $san node logs"

# graceful stop, so leak reports at exit land in the logs too
for i in 1 2 3; do be_stop $i; done; fe_stop
san2=$(grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T"/fe/log "$T"/be*/log 2>/dev/null | wc -l)
[ "$san2" -eq 0 ] || { err "sanitizer reports at exit in $san2 node logs"; grep -h -A5 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/fe/log "$T"/be*/log | head -40 >&2; }

echo "soak: ${minutes} min, rows loaded $committed, rows verified ${verified:-0}, scans $scans (failed $failedscans, wrong $badscans), load errors $loaderr, remote objects $objects (max $objects_max), local bytes at the end of the loads ${local_pct}%, errors $errors"
printf '{"minutes": %d, "rows_loaded": %d, "rows_verified": %d, "scans": %d, "scans_failed": %d, "scans_wrong": %d, "load_errors": %d, "remote_objects": %d, "remote_objects_max": %d, "local_pct_at_load_end": %s, "errors": %d}\n' \
    "$minutes" "$committed" "${verified:-0}" "$scans" "$failedscans" "$badscans" "$loaderr" "$objects" "$objects_max" "$local_pct" "$errors"
[ $errors -eq 0 ]
