#!/usr/bin/env bash
# Runs every floe test suite from a clean build and ends with one line
# "N passed, N failed". Exit status is non-zero when anything failed.
#
#   tests/run.sh            install what is missing, then: unit tests (faults
#                           build), unit tests under ASan+UBSan, integration
#                           tests against real processes and S3 servers, fuzz
#                           smoke runs
#   tests/run.sh --full     also the slow integration cases (FLOE_TEST_FULL=1)
#   tests/run.sh --quick    unit tests of the faults build only
#   FLOE_TEST_FILTER=REGEX  only integration scripts whose name matches
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
export FLOE_TEST_FULL=${FLOE_TEST_FULL:-0}
for a in "$@"; do
    case "$a" in
    --full) FLOE_TEST_FULL=1 ;;
    --quick) quick=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "tests/run.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done

./deploy/install-deps.sh all || { echo "tests/run.sh: installing dependencies failed" >&2; echo "0 passed, 1 failed"; exit 1; }

results=$root/build-test/results
step_fail=0
note() { printf '== %s\n' "$*"; }

build() {   # build DIR [meson options...]
    local dir=$1; shift
    rm -rf "$dir"
    if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
        cat "$dir.setup.log"; return 1
    fi
    rm -f "$dir.setup.log"
    ninja -C "$dir" >"$dir/ninja.log" 2>&1 || { tail -60 "$dir/ninja.log"; return 1; }
}

unit() {    # unit DIR LABEL
    local dir=$1 label=$2
    meson test -C "$dir" --suite unit --num-processes 2 --print-errorlogs >"$dir/unit.log" 2>&1
    local rc=$?
    python3 "$root/tests/count.py" meson "$dir/meson-logs/testlog.json" "$label" >>"$results"
    [ $rc -eq 0 ] || grep -E "^(Summary|Fail|Ok)" "$dir/unit.log" | head -5
}

rm -rf build-test
note "build (faults on)"
if build build-test -Dfaults=true; then
    : >"$results"
    note "unit tests"
    unit build-test unit
else
    mkdir -p build-test; echo "FAIL build" >"$results"; step_fail=1
fi

if [ $quick -eq 0 ] && [ $step_fail -eq 0 ]; then
    note "build (ASan+UBSan)"
    if build build-asan -Dfaults=true -Db_sanitize=address,undefined -Db_lundef=false; then
        note "unit tests under ASan+UBSan"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            unit build-asan asan
    else
        echo "FAIL build-asan" >>"$results"
    fi

    note "integration tests"
    export FLOE_BUILD=$root/build-test FLOE_ROOT=$root
    for t in tests/integration/t_*.sh; do
        [ -e "$t" ] || continue
        name=$(basename "$t" .sh)
        if [ -n "${FLOE_TEST_FILTER:-}" ] && ! [[ $name =~ $FLOE_TEST_FILTER ]]; then continue; fi
        log=build-test/$name.log
        start=$(date +%s)
        timeout --signal=TERM --kill-after=30 900 bash "$t" >"$log" 2>&1 </dev/null
        rc=$?
        python3 "$root/tests/count.py" script "$log" "$name" "$rc" >>"$results"
        printf '   %-40s rc=%d %ds\n' "$name" "$rc" $(( $(date +%s) - start ))
        if [ $rc -ne 0 ]; then tail -40 "$log"; fi
    done

    if [ -x tests/fuzz/run.sh ]; then
        note "fuzz smoke"
        log=build-test/fuzz.log
        bash tests/fuzz/run.sh >"$log" 2>&1 </dev/null
        rc=$?
        python3 "$root/tests/count.py" script "$log" fuzz "$rc" >>"$results"
        [ $rc -eq 0 ] || tail -40 "$log"
    fi
fi

python3 "$root/tests/count.py" total "$results"
