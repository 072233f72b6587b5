#!/usr/bin/env bash
# Object-store benchmark (not run in CI): uploads and downloads of
#   (a) one 512 MiB object and
#   (b) 2000 objects of 64 KiB
# to Swift's S3 API and to s3rver on loopback, with floe's client
# (objstore_tool), with /usr/bin/aws (s3 cp, --recursive for many files) and
# with the curl CLI (--aws-sigv4, --parallel for many files), all in the
# same run on the same files. Every download is compared with its source.
# Prints one JSON document on stdout: MB/s for (a), objects/s for (b), and
# the ratios floe/awscli and floe/curl.
#
#   FLOE_BUILD=/path/to/build tests/bench/objstore/run.sh > result.json
#   BENCH_BIG_MB=512 BENCH_N=2000 BENCH_JOBS=16 BENCH_ROUNDS=2 BENCH_SERVERS="swift s3rver"
# a private temp root: the data set is large and the run takes minutes
TMPDIR=$(mktemp -d "${TMPDIR:-/var/tmp}/floe-bench-objstore.XXXXXX") || exit 1
export TMPDIR
. "$(dirname "$0")/../../integration/lib/common.sh"
. "$(dirname "$0")/../../integration/lib/s3servers.sh"
trap 's3srv_stop_all; cleanup; rmdir "$TMPDIR" 2>/dev/null' EXIT

BIG_MB=${BENCH_BIG_MB:-512}
N=${BENCH_N:-2000}
JOBS=${BENCH_JOBS:-16}
ROUNDS=${BENCH_ROUNDS:-2}
SERVERS=${BENCH_SERVERS:-swift s3rver}
tool=$(bin objstore_tool) || exit 1
res=$T/results.txt
: >"$res"
log() { echo "bench: $*" >&2; }

# data
mkdir -p "$T/many"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$T/big"
for i in $(seq -f %04g 1 "$N"); do head -c 65536 /dev/urandom >"$T/many/f$i"; done
cat "$T/big" "$T"/many/* >/dev/null  # warm the page cache for every client alike

now() { date +%s.%N; }
# record SERVER CASE CLIENT "WALL CPU" OK
record() { echo "$1 $2 $3 $4 $5" >>"$res"; log "$1 $2 $3: wall+cpu $4 s ok=$5"; }

# timed SERVER CASE CLIENT CHECK-CMD -- CMD...: runs CMD, then CHECK-CMD, records
# wall time and the client's CPU time (user + system of CMD and its children)
timed() {
    local srv=$1 case=$2 client=$3 check=$4; shift 5
    local ok=1 out=">$T/last.log"
    [ "${OUT:-}" ] && out=">$OUT"
    local TIMEFORMAT='%R %U %S'
    sync  # no client pays for the previous client's dirty pages
    { time eval '"$@"' "$out" '2>>$T/last.log' || ok=0; } 2>"$T/time.txt"
    [ $ok -eq 1 ] || tail -3 "$T/last.log" >&2
    if [ $ok -eq 1 ] && [ -n "$check" ]; then eval "$check" >/dev/null 2>&1 || ok=0; fi
    local wall usr sys cpu
    read -r wall usr sys <"$T/time.txt"
    cpu=$(awk -v a="$usr" -v b="$sys" 'BEGIN { printf "%.3f", a + b }')
    record "$srv" "$case" "$client" "$wall $cpu" $ok
}

bench_server() { # P label
    local p=$1 s=$2
    local ep_var=${p}_ENDPOINT b_var=${p}_BUCKET ak_var=${p}_ACCESS_KEY sk_var=${p}_SECRET_KEY
    local ep=${!ep_var} bucket=${!b_var}
    local floe
    floe=$(s3srv_floe_args "$p")
    local host=${ep#http://}
    printf 'machine %s login %s password %s\n' "${host%:*}" "${!ak_var}" "${!sk_var}" >"$T/netrc"
    chmod 600 "$T/netrc"
    local C=(curl -sS --fail-with-body --netrc-file "$T/netrc" --aws-sigv4 aws:amz:us-east-1:s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
    rm -rf "$T/dl"; mkdir -p "$T/dl"

    # (a) one big object
    # floe: multipart with 4 parts in flight (the defaults), and one single PUT
    # shellcheck disable=SC2086
    timed "$s" big_up floe "" -- s3srv_env "$p" "$tool" $floe put big/floe "$T/big"
    # shellcheck disable=SC2086
    timed "$s" big_up floe_single_put "" -- s3srv_env "$p" "$tool" $floe multipart_threshold=1G put big/floe1 "$T/big"
    # to a plain file like the other clients (objstore_get_file would add an fsync)
    # shellcheck disable=SC2086
    OUT=$T/dl/big.floe timed "$s" big_down floe "cmp $T/big $T/dl/big.floe" -- s3srv_env "$p" "$tool" $floe cat big/floe
    timed "$s" big_up awscli "" -- s3srv_aws "$p" s3 cp --only-show-errors "$T/big" "s3://$bucket/big/aws"
    timed "$s" big_down awscli "cmp $T/big $T/dl/big.aws" -- s3srv_aws "$p" s3 cp --only-show-errors "s3://$bucket/big/aws" "$T/dl/big.aws"
    timed "$s" big_up curl "" -- "${C[@]}" -T "$T/big" "$ep/$bucket/big/curl"
    timed "$s" big_down curl "cmp $T/big $T/dl/big.curl" -- "${C[@]}" -o "$T/dl/big.curl" "$ep/$bucket/big/curl"
    rm -f "$T"/dl/big.*

    # (b) many small objects: ROUNDS rounds, the client order rotating, so
    # no client always runs first or last on a shared machine; the best
    # round per client is reported
    local last round c order
    last=$(printf %04d "$N")
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order="floe awscli curl"; else order="curl awscli floe"; fi
        for c in $order; do
            local pre=many-$c-$round dl=$T/dl/$c-$round
            mkdir -p "$dl"
            case $c in
            floe)
                # shellcheck disable=SC2086
                timed "$s" many_up floe "" -- s3srv_env "$p" "$tool" $floe put-dir "$T/many" "$pre/" "$JOBS"
                # shellcheck disable=SC2086
                timed "$s" many_down floe "diff -r $T/many $dl" -- s3srv_env "$p" "$tool" $floe get-prefix "$pre/" "$dl" "$JOBS" ;;
            awscli)
                timed "$s" many_up awscli "" -- s3srv_aws "$p" s3 cp --recursive --only-show-errors "$T/many/" "s3://$bucket/$pre/"
                timed "$s" many_down awscli "diff -r $T/many $dl" -- s3srv_aws "$p" s3 cp --recursive --only-show-errors "s3://$bucket/$pre/" "$dl/" ;;
            curl)
                timed "$s" many_up curl "" -- "${C[@]}" --parallel --parallel-max "$JOBS" -T "$T/many/f[0001-$last]" "$ep/$bucket/$pre/"
                timed "$s" many_down curl "diff -r $T/many $dl" -- "${C[@]}" --parallel --parallel-max "$JOBS" -o "$dl/f#1" "$ep/$bucket/$pre/f[0001-$last]" ;;
            esac
            rm -rf "$dl"
        done
    done
    rm -rf "$T/dl"
}

for s in $SERVERS; do
    case $s in
    swift) s3srv_start_swift "$T/swift" >&2 || { log "Swift did not start"; exit 1; }; bench_server SWIFT swift ;;
    s3rver) s3srv_start_s3rver "$T/s3rver" >&2 || { log "s3rver did not start"; exit 1; }; bench_server S3RVER s3rver ;;
    *) log "unknown server $s"; exit 2 ;;
    esac
done

python3 - "$res" "$BIG_MB" "$N" "$JOBS" <<'PY'
import json, os, sys, time
path, big_mb, n, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out = {"benchmark": "objstore", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "cpus": os.cpu_count(), "big_object_mib": big_mb, "small_objects": n,
       "small_object_kib": 64, "parallel_jobs": jobs,
       "units": {"big_up": "MB/s", "big_down": "MB/s", "many_up": "objects/s", "many_down": "objects/s"},
       "servers": {}}
for line in open(path):
    srv, case, client, secs, cpu, ok = line.split()
    secs, cpu = float(secs), float(cpu)
    if case.startswith("big"):
        rate = big_mb * 1048576 / 1e6 / secs
        extra = {"mb_per_s": round(rate, 1)}
    else:
        rate = n / secs
        extra = {"objects_per_s": round(rate, 1), "mb_per_s": round(n * 65536 / 1e6 / secs, 1)}
    d = out["servers"].setdefault(srv, {}).setdefault(case, {})
    prev = d.get(client)
    runs = (prev or {}).get("all_seconds", []) + [round(secs, 3)]
    if prev is None or secs < prev["seconds"]:
        d[client] = dict(seconds=round(secs, 3), client_cpu_seconds=round(cpu, 3), ok=ok == "1", **extra)
        d.setdefault("_rates", {})[client] = rate
    d[client]["all_seconds"] = runs
    d[client]["ok"] = d[client]["ok"] and ok == "1" and (prev is None or prev["ok"])
for srv in out["servers"].values():
    for case in srv.values():
        r = case.pop("_rates")
        if "floe" in r:
            for other in ("awscli", "curl"):
                if other in r and r[other] > 0:
                    case["floe_vs_" + other] = round(r["floe"] / r[other], 2)
print(json.dumps(out, indent=2))
PY
