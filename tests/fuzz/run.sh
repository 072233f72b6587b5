#!/usr/bin/env bash
# Fuzz smoke run: builds every target listed in tests/fuzz/targets with clang
# (-fsanitize=fuzzer,address,undefined) in its own build directory, replays
# the saved crash regressions, then fuzzes each target for a bounded time
# over its seed corpus. Prints "PASS fuzz_<name>" / "FAIL fuzz_<name> ..."
# lines and exits non-zero when anything failed.
#
#   FUZZ_SECONDS   total fuzzing time shared by all targets (default 40)
#   FUZZ_BUILD     build directory (default <repo>/build-fuzz)
#   FUZZ_ONLY      run only this target
#
# Adding a target: write tests/fuzz/fuzz_<name>.c and add one line to
# tests/fuzz/targets. A crash input found (saved under
# $FUZZ_BUILD/crashes/<name>/) goes into tests/fuzz/regress/<name>/ with the
# fix, so every later run replays it.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
fz=$root/tests/fuzz
bdir=${FUZZ_BUILD:-$root/build-fuzz}
total=${FUZZ_SECONDS:-40}
failed=0

fail() { echo "FAIL $*"; failed=1; }

if ! command -v clang >/dev/null; then
    fail "fuzz_build (clang not installed)"
    exit 1
fi

# name -> libraries
declare -A libs
names=()
while read -r name rest; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ]; then continue; fi
    if [ ! -f "$fz/fuzz_$name.c" ]; then
        fail "fuzz_$name (tests/fuzz/fuzz_$name.c missing)"
        continue
    fi
    names+=("$name")
    libs[$name]=$rest
done <"$fz/targets"
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no targets"; exit $failed; }

# Libraries get coverage instrumentation (fuzzer-no-link) and the sanitizers;
# only the fuzz targets link libFuzzer itself.
if [ ! -f "$bdir/build.ninja" ]; then
    rm -rf "$bdir"
    if ! CC=clang meson setup "$bdir" -Dtests=disabled -Dwerror=false \
            -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
            -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
            >"$bdir.setup.log" 2>&1; then
        tail -30 "$bdir.setup.log"
        fail "fuzz_build (meson setup, see $bdir.setup.log)"
        exit 1
    fi
    rm -f "$bdir.setup.log"
fi

all_libs=$(for n in "${names[@]}"; do echo "${libs[$n]}"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
# shellcheck disable=SC2086
if ! ninja -C "$bdir" -j2 $all_libs >"$bdir/fuzz-ninja.log" 2>&1; then
    tail -40 "$bdir/fuzz-ninja.log"
    fail "fuzz_build (libraries)"
    exit 1
fi

syslibs=$(pkg-config --libs libcrypto jansson libzstd libcurl libxml-2.0 libmicrohttpd 2>/dev/null)
syscflags=$(pkg-config --cflags libxml-2.0 2>/dev/null)
per=$(( total / ${#names[@]} ))
[ $per -lt 5 ] && per=5

for name in "${names[@]}"; do
    exe=$bdir/fuzz_$name
    la=()
    for l in ${libs[$name]}; do la+=("$bdir/$l"); done
    # shellcheck disable=SC2086
    if ! clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=all -Wall -Wextra -Werror \
            -I"$root/common" -I"$root/thrift-like-idl" -I"$bdir/thrift-like-idl" \
            -I"$root/be" -I"$bdir/be" -I"$root/fe" $syscflags \
            "$fz/fuzz_$name.c" "${la[@]}" $syslibs -lm -lpthread -o "$exe" \
            >"$bdir/fuzz_$name.build.log" 2>&1; then
        cat "$bdir/fuzz_$name.build.log"
        fail "fuzz_$name (build)"
        continue
    fi
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

    reg=$fz/regress/$name
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null | grep -v '^\.')" ]; then
        if "$exe" -runs=1 "$reg"/* >"$bdir/fuzz_$name.regress.log" 2>&1; then
            echo "PASS fuzz_${name}_regress"
        else
            tail -30 "$bdir/fuzz_$name.regress.log"
            fail "fuzz_${name}_regress"
        fi
    fi

    work=$bdir/corpus/$name
    crashes=$bdir/crashes/$name
    mkdir -p "$work" "$crashes"
    seeds=()
    [ -d "$fz/corpus/$name" ] && seeds=("$fz/corpus/$name")
    log=$bdir/fuzz_$name.log
    start=$(date +%s)
    "$exe" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    if [ $rc -eq 0 ]; then
        echo "PASS fuzz_$name (${runs:-?} runs in $(( $(date +%s) - start ))s)"
    else
        grep -E "ERROR|SUMMARY|==[0-9]+==|Test unit written" "$log" | head -20
        fail "fuzz_$name (crash input saved in $crashes; see $log)"
    fi
done
exit $failed
