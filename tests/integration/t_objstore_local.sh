#!/usr/bin/env bash
# The object-store conformance cases against the local directory driver,
# through the objstore_conformance program (the unit runner runs them too;
# this checks the program and a prefix-less root).
. "$(dirname "$0")/lib/common.sh"

conf=$(bin objstore_conformance) || { fail objstore_local.build; finish; }

run_cases() { # LABEL ARGS...: re-emits the program's PASS/FAIL lines through pass/fail
    local label=$1; shift
    local out rc line
    out=$("$conf" --label "$label" "$@" 2>&1); rc=$?
    while IFS= read -r line; do
        case $line in
        PASS\ *) pass "${line#PASS }" ;;
        FAIL\ *) fail "${line#FAIL }" ;;
        *) echo "$line" ;;
        esac
    done <<<"$out"
    [ $rc -eq 0 ] || fail "$label.exit status $rc"
}

run_cases local type=local "root=$T/store" multipart_threshold=5M part_size=5M
run_cases local_prefixed type=local "root=$T/store2" prefix=tier/cold multipart_threshold=5M part_size=5M
# nothing may be left behind but (empty) directories
left=$(find "$T/store" "$T/store2" -type f | wc -l)
check objstore_local.cleanup_left_no_files [ "$left" -eq 0 ]
finish
