#!/usr/bin/env bash
# Cooldown benchmark against a real S3 server on loopback (s3rver by
# default, Swift with BENCH_SERVER=swift): floe cools down T tablets x R
# rowsets and is timed against /usr/bin/aws s3 cp --recursive of the same
# segment files in the same run; then the cooled tablets are scanned with a
# cold and a warm file cache and compared with the same scan while hot.
# Prints one JSON object with the ratios.
#
#   BENCH_TABLETS (4)  BENCH_ROWSETS (8)  BENCH_ROWS per rowset (400000)
#   BENCH_SERVER  s3rver | swift (s3rver)
#   BENCH_STORE_OPTS  extra resource settings, e.g. "multipart_threshold=8388608 part_size=8388608"
#   FLOE_BUILD    build dir (default <repo>/build-bench, debugoptimized)
#   BENCH_LOOPS   scans per best-of measurement (3)
#   BENCH_BLOCK_KB  file cache block size (1024)
#   BENCH_WRAP    command prefix for the benchmark process, e.g.
#                 "valgrind --tool=callgrind --toggle-collect=scan_main_warm"
#                 (scan_main_hot / _cold / _warm run the hot / cold-cache / warm-cache scans)
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
tablets=${BENCH_TABLETS:-4}
rowsets=${BENCH_ROWSETS:-8}
rows=${BENCH_ROWS:-400000}
server=${BENCH_SERVER:-s3rver}
build=${FLOE_BUILD:-$root/build-bench}

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dbuildtype=debugoptimized >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log" >&2; exit 1; }
    rm -f "$build.setup.log"
fi
ninja -C "$build" tests/bench/cooldown/bench_cooldown >"$build.ninja.log" 2>&1 || { tail -30 "$build.ninja.log" >&2; exit 1; }
bin=$build/tests/bench/cooldown/bench_cooldown

export FLOE_ROOT=$root FLOE_BUILD=$build
set +u
. "$root/tests/integration/lib/common.sh"
. "$root/tests/integration/lib/s3servers.sh"
set -u
if [ "$server" = swift ]; then
    s3srv_start_swift "$T/swift" >&2 || exit 1
    P=SWIFT
else
    s3srv_start_s3rver "$T/s3rver" >&2 || exit 1
    P=S3RVER
fi
ep=${P}_ENDPOINT; bucket=${P}_BUCKET; ak=${P}_ACCESS_KEY; sk=${P}_SECRET_KEY; region=${P}_REGION
mkdir -p "$T/copy"
floe=$(${BENCH_WRAP:-} "$bin" "$T/run" "$tablets" "$rowsets" "$rows" "$T/copy" type=s3 endpoint="${!ep}" region="${!region}" \
    bucket="${!bucket}" path_style=true credentials=explicit access_key="${!ak}" secret_key="${!sk}" prefix=floe \
    ${BENCH_STORE_OPTS:-})

t0=$(date +%s.%N)
AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} AWS_DEFAULT_REGION=${!region} AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    /usr/bin/aws --endpoint-url "${!ep}" s3 cp --recursive --only-show-errors "$T/copy" "s3://${!bucket}/awscli/" >&2
t1=$(date +%s.%N)

python3 - "$floe" "$t0" "$t1" "$server" <<'PY'
import json, sys
f = json.loads(sys.argv[1])
aws_s = float(sys.argv[3]) - float(sys.argv[2])
aws = f["bytes"] / 1048576 / aws_s
out = {"server": sys.argv[4], "floe": f,
       "awscli": {"upload_s": round(aws_s, 3), "upload_mib_s": round(aws, 1)},
       "ratios": {"upload_floe_over_awscli": round(f["upload_mib_s"] / aws, 2),
                  "warm_cold_scan_over_hot": round(f["warm_over_hot"], 3),
                  "warm_cold_scan_over_hot_cpu": round(f["warm_over_hot_cpu"], 3),
                  "cold_fetched_over_needed": round(f["fetched_over_needed"], 4),
                  "one_column_cold_fetched_over_needed": round(f["k_only"]["fetched_over_needed"], 4),
                  "one_column_warm_over_hot": round(f["k_only"]["warm_over_hot"], 3),
                  "one_column_warm_over_hot_cpu": round(f["k_only"]["warm_over_hot_cpu"], 3)},
       "goals": {"upload_floe_over_awscli": ">= 1.5", "warm_cold_scan_over_hot": "<= 1.15",
                 "cold_fetched_over_needed": "<= 1.1", "one_column_cold_fetched_over_needed": "<= 1.1"}}
print(json.dumps(out, indent=1))
PY
