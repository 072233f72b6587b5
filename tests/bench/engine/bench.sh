#!/usr/bin/env bash
# Engine benchmark: CSV load and scans of floe's tablet engine against DuckDB
# on the same generated CSV, in the same run. Prints one JSON object with both
# sides and the ratios (floe / DuckDB speed; > 1 means floe is faster).
#
#   BENCH_ROWS     rows to generate (default 4000000)
#   BENCH_THREADS  floe load/scan threads, one tablet each (default: nproc)
#   FLOE_BUILD     build directory with tests/bench/engine/bench_engine
#                  (default: <repo>/build-bench, configured with the default debugoptimized build type)
#
# DuckDB (npm @duckdb/node-api) is installed into <repo>/tests/.npm on first use.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
here=$root/tests/bench/engine
rows=${BENCH_ROWS:-4000000}
threads=${BENCH_THREADS:-$(nproc)}
build=${FLOE_BUILD:-$root/build-bench}
npm_dir=$root/tests/.npm
duck_version=1.5.6-r.1

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dbuildtype=debugoptimized >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log" >&2; exit 1; }
    rm -f "$build.setup.log"
fi
ninja -C "$build" tests/bench/engine/bench_engine >"$build.ninja.log" 2>&1 || { tail -30 "$build.ninja.log" >&2; exit 1; }
bin=$build/tests/bench/engine/bench_engine

if [ ! -d "$npm_dir/node_modules/@duckdb/node-api" ]; then
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "@duckdb/node-api@$duck_version" >&2
fi
# an ES module resolves packages from its own directory
cp "$here/duck.mjs" "$npm_dir/bench_engine_duck.mjs"

work=$(mktemp -d "${TMPDIR:-/tmp}/floe-bench-engine.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin" gen "$work/data.csv" "$rows"
floe=$("$bin" run "$work/data.csv" "$work/floe" "$threads")
lo=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["range_lo"])' "$floe")
hi=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["range_hi"])' "$floe")
duck=$(node "$npm_dir/bench_engine_duck.mjs" "$work/data.csv" "$work/duck.db" "$lo" "$hi")

python3 - "$floe" "$duck" <<'PY'
import json, sys
f, d = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
out = {
    "rows": f["rows"],
    "csv_bytes": f["csv_bytes"],
    "floe": f,
    "duckdb": d,
    "ratios": {
        "load": f["load_rows_per_s"] / d["load_rows_per_s"],
        "scan_full_sum": d["scan_full_s"] / f["scan_full_s"],
        "scan_range": d["scan_range_s"] / f["scan_range_s"],
        "disk_bytes_floe_over_duckdb": f["disk_bytes"] / d["disk_bytes"],
    },
    "results_match": f["rows"] == d["rows"] and f["scan_range_rows"] == d["scan_range_rows"]
        and close(f["scan_full_sum"], d["scan_full_sum"]) and close(f["scan_range_sum"], d["scan_range_sum"]),
}
print(json.dumps(out, indent=2))
sys.exit(0 if out["results_match"] else 1)
PY
