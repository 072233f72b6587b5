#!/usr/bin/env bash
# floe's S3 driver against real S3 servers on loopback: OpenStack Swift's S3
# API (verifies SigV4) and s3rver. For each server:
#   1. the conformance cases (odd keys, empty objects, ranges, multipart,
#      a multipart put with a failing part, >1000-key listings, batch
#      deletes, wrong credentials, server killed mid-transfer and
#      restarted, ...); on Swift then: no incomplete multipart upload is
#      left in the bucket (the failed put was aborted), and credentials from
#      a shared credentials file reach the server (right profile works, the
#      wrong [default] profile is refused)
#   2. cross-check with an independent client (/usr/bin/aws): what floe
#      wrote, awscli reads back byte for byte, and the other way round
#   3. retries through the fault proxy (10% of requests fail with 500/503/
#      SlowDown, resets, truncated bodies, delays): every operation succeeds,
#      retries are counted, no object is corrupted
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/s3servers.sh"
trap 's3srv_stop_all; cleanup' EXIT

conf=$(bin objstore_conformance) || { fail objstore_s3.build; finish; }
tool=$(bin objstore_tool) || { fail objstore_s3.build; finish; }
lib=$FLOE_ROOT/tests/integration/lib/s3servers.sh
proxy=$FLOE_ROOT/tests/faultproxy/faultproxy.py

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
    [ $rc -eq 0 ] || fail "$label.exit_status_$rc"
}

# make_tree DIR: a few files with awkward names plus one large enough for multipart
make_tree() {
    local d=$1
    mkdir -p "$d"
    printf 'space' >"$d/with space.txt"
    printf 'unicode' >"$d/uni-ü日本.bin"
    printf 'plus' >"$d/a+b=c.dat"
    : >"$d/empty"
    head -c 100000 /dev/urandom >"$d/random.bin"
    head -c $((12 * 1024 * 1024 + 4321)) /dev/urandom >"$d/large.bin"
}

crosscheck() { # P LABEL
    local p=$1 label=$2 args d
    args=$(s3srv_floe_args "$p")
    local bucket_var=${p}_BUCKET
    local bucket=${!bucket_var}
    d=$T/cross-$label
    make_tree "$d/src"
    # floe writes (multipart for the large file), awscli reads
    # shellcheck disable=SC2086
    if s3srv_env "$p" "$tool" $args multipart_threshold=5M part_size=5M put-dir "$d/src" floe-wrote/ 4 2>"$d/put.log"; then
        pass "$label.floe_put_dir"
    else
        fail "$label.floe_put_dir: $(tail -2 "$d/put.log")"
    fi
    if s3srv_aws "$p" s3 cp --recursive --only-show-errors "s3://$bucket/floe-wrote/" "$d/aws-got/" >"$d/awsget.log" 2>&1 &&
        diff -r "$d/src" "$d/aws-got" >/dev/null; then
        pass "$label.awscli_reads_what_floe_wrote"
    else
        fail "$label.awscli_reads_what_floe_wrote: $(tail -3 "$d/awsget.log")"
    fi
    local n
    n=$(s3srv_aws "$p" s3 ls --recursive "s3://$bucket/floe-wrote/" 2>/dev/null | wc -l)
    check "$label.awscli_lists_floe_objects" [ "$n" -eq 6 ]
    # awscli writes (its own multipart above 8 MiB), floe reads
    if s3srv_aws "$p" s3 cp --recursive --only-show-errors "$d/src/" "s3://$bucket/aws-wrote/" >"$d/awsput.log" 2>&1; then
        pass "$label.awscli_put"
    else
        fail "$label.awscli_put: $(tail -3 "$d/awsput.log")"
    fi
    mkdir -p "$d/floe-got"
    # shellcheck disable=SC2086
    if s3srv_env "$p" "$tool" $args get-prefix aws-wrote/ "$d/floe-got" 4 2>"$d/get.log" &&
        diff -r "$d/src" "$d/floe-got" >/dev/null; then
        pass "$label.floe_reads_what_awscli_wrote"
    else
        fail "$label.floe_reads_what_awscli_wrote: $(tail -2 "$d/get.log")"
    fi
    # floe deletes both trees; awscli sees nothing left
    # shellcheck disable=SC2086
    s3srv_env "$p" "$tool" $args rm-prefix floe-wrote/ 2>/dev/null &&
        s3srv_env "$p" "$tool" $args rm-prefix aws-wrote/ 2>/dev/null
    n=$(s3srv_aws "$p" s3 ls --recursive "s3://$bucket/" 2>/dev/null | grep -c -e floe-wrote/ -e aws-wrote/)
    check "$label.floe_delete_seen_by_awscli" [ "$n" -eq 0 ]
}

open_uploads() { # P: number of incomplete multipart uploads in P's bucket (ListMultipartUploads)
    local b_var=${1}_BUCKET
    s3srv_aws "$1" s3api list-multipart-uploads --bucket "${!b_var}" \
        --query 'length(Uploads || `[]`)' --output text 2>"$T/uploads.err"
}

# no_open_uploads P LABEL: after the conformance run (whose multipart_abort
# case made a multipart put fail after a part was stored) no incomplete
# upload is left; then shows that the listing does see an open upload.
no_open_uploads() {
    local p=$1 label=$2 n id b_var=${1}_BUCKET
    n=$(open_uploads "$p")
    if [ "$n" = 0 ]; then
        pass "$label.no_incomplete_multipart_upload_left"
    else
        fail "$label.no_incomplete_multipart_upload_left: ListMultipartUploads says '$n' $(tail -1 "$T/uploads.err")"
        s3srv_aws "$p" s3api list-multipart-uploads --bucket "${!b_var}" --output text | head -5
    fi
    # the check can fail: an upload opened with awscli is listed until aborted
    id=$(s3srv_aws "$p" s3api create-multipart-upload --bucket "${!b_var}" --key uploads-control/obj \
        --query UploadId --output text 2>/dev/null)
    n=$(open_uploads "$p")
    if [ -n "$id" ] && [ "$n" = 1 ]; then
        pass "$label.list_multipart_uploads_sees_an_open_upload"
    else
        fail "$label.list_multipart_uploads_sees_an_open_upload: upload id '$id', listed '$n'"
    fi
    s3srv_aws "$p" s3api abort-multipart-upload --bucket "${!b_var}" --key uploads-control/obj \
        --upload-id "$id" >/dev/null 2>&1
    n=$(open_uploads "$p")
    check "$label.no_upload_left_after_awscli_abort" [ "$n" = 0 ]
}

# creds_file P LABEL: the resource takes its keys from an AWS shared
# credentials file. [default] has the right key id with a wrong secret (only
# a server that verifies signatures refuses it); the right keys are under
# [floe-right]. The environment carries no keys for these runs.
creds_file() {
    local p=$1 label=$2
    local f=$T/credentials-$label ak=${p}_ACCESS_KEY sk=${p}_SECRET_KEY ep=${p}_ENDPOINT b=${p}_BUCKET r=${p}_REGION
    (umask 077 && cat >"$f" <<EOF
[default]
aws_access_key_id = ${!ak}
aws_secret_access_key = wrong-${!sk}

# the keys floe must use
[floe-right]
aws_access_key_id = ${!ak}
aws_secret_access_key = ${!sk}
EOF
    )
    local args="type=s3 endpoint=${!ep} bucket=${!b} region=${!r} path_style=true credentials=file credentials_file=$f"
    # shellcheck disable=SC2086
    AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SESSION_TOKEN= AWS_PROFILE= \
        run_cases "$label-credfile" --only roundtrip,odd_keys,conditional_get $args profile=floe-right
    # the profile named by $AWS_PROFILE when the resource names none
    # shellcheck disable=SC2086
    AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SESSION_TOKEN= AWS_PROFILE=floe-right \
        run_cases "$label-credfile-awsprofile" --only roundtrip $args
    # the wrong profile: every request is refused as access denied, not retried
    # shellcheck disable=SC2086
    AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SESSION_TOKEN= AWS_PROFILE= \
        run_cases "$label-credfile-default" --expect-denied --only denied $args profile=default
}

faults() { # P LABEL PORT [conformance flags...]
    local p=$1 label=$2 port=$3; shift 3
    local d=$T/faults-$label seed=$RANDOM
    mkdir -p "$d/src" "$d/got"
    python3 "$proxy" --upstream "127.0.0.1:$port" --port-file "$d/port" --rate 0.1 --seed "$seed" \
        --delay-ms 200 --stats-file "$d/stats.json" >"$d/proxy.log" 2>&1 &
    track_pid $!
    if ! wait_for 20 test -s "$d/port"; then
        fail "$label.faultproxy_start"; return
    fi
    echo "# $label: fault proxy on port $(cat "$d/port"), seed $seed"
    local ep_var=${p}_ENDPOINT b_var=${p}_BUCKET
    local args="type=s3 endpoint=http://127.0.0.1:$(cat "$d/port") bucket=${!b_var} credentials=env"
    args+=" multipart_threshold=5M part_size=5M retry_base_ms=20 retry_max_attempts=10 stall_timeout_ms=5000"
    local i
    for i in $(seq 1 150); do head -c $((RANDOM % 20000)) /dev/urandom >"$d/src/f$i"; done
    head -c $((16 * 1024 * 1024 + 77)) /dev/urandom >"$d/src/large"
    local ok=1
    # shellcheck disable=SC2086
    s3srv_env "$p" "$tool" $args put-dir "$d/src" faults/ 6 2>"$d/put.json" || ok=0
    # shellcheck disable=SC2086
    s3srv_env "$p" "$tool" $args get-prefix faults/ "$d/got" 6 2>"$d/get.json" || ok=0
    check "$label.faults_every_operation_succeeds" [ $ok -eq 1 ]
    check "$label.faults_no_corrupted_object" diff -r "$d/src" "$d/got"
    # shellcheck disable=SC2086
    local n
    n=$(s3srv_env "$p" "$tool" $args list faults/ 2>/dev/null | wc -l)
    check "$label.faults_listing_complete" [ "$n" -eq 151 ]
    # shellcheck disable=SC2086
    s3srv_env "$p" "$tool" $args rm-prefix faults/ 2>"$d/rm.json" || ok=0
    # check directly (not through the proxy) that everything is gone
    # shellcheck disable=SC2086
    n=$(s3srv_env "$p" "$tool" $(s3srv_floe_args "$p") list faults/ 2>/dev/null | wc -l)
    check "$label.faults_delete_complete" [ "$n" -eq 0 ]
    local retries injected
    retries=$(cat "$d"/put.json "$d"/get.json "$d"/rm.json | sed -n 's/.*"retries":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    injected=$(sed -n 's/.*"injected": \([0-9]*\).*/\1/p' "$d/stats.json")
    echo "# $label: proxy $(cat "$d/stats.json"); client retries $retries"
    check "$label.faults_injected" [ "${injected:-0}" -gt 0 ]
    check "$label.faults_retries_counted" [ "${retries:-0}" -gt 0 ]
    # the conformance cases that do not count exact requests, through the proxy
    # shellcheck disable=SC2086
    s3srv_env "$p" run_cases "$label-faults" "$@" \
        --only roundtrip,odd_keys,empty_object,ranges,multipart,conditional_get,not_found,concurrent $args
}

if s3srv_start_swift "$T/swift"; then
    pass objstore_s3.swift_start
    # shellcheck disable=SC2046
    s3srv_env SWIFT run_cases swift --verifies-signature --ctl "bash $lib ctl $SWIFT_DIR" \
        $(s3srv_floe_args SWIFT) multipart_threshold=5M part_size=5M
    no_open_uploads SWIFT swift
    creds_file SWIFT swift
    crosscheck SWIFT swift
    faults SWIFT swift "$SWIFT_PORT" --verifies-signature
else
    fail objstore_s3.swift_start
fi

if s3srv_start_s3rver "$T/s3rver"; then
    pass objstore_s3.s3rver_start
    # shellcheck disable=SC2046
    s3srv_env S3RVER run_cases s3rver --quirks dot-segments --ctl "bash $lib ctl $S3RVER_DIR" \
        $(s3srv_floe_args S3RVER) multipart_threshold=5M part_size=5M
    # s3rver 3.7.1 implements neither ListMultipartUploads nor
    # AbortMultipartUpload (405): its multipart_abort case checks the failed
    # put and the missing object only, and its parts stay in its data dir.
    # It does not verify SigV4 signatures either (only the key id), so the
    # wrong-secret and credentials-file profile cases run on Swift only. This
    # check fails once an s3rver that does is installed: then pass it
    # --verifies-signature and run creds_file on it too.
    printf 'x' >"$T/quirk.in"
    # shellcheck disable=SC2046
    if AWS_ACCESS_KEY_ID=$S3RVER_ACCESS_KEY AWS_SECRET_ACCESS_KEY=wrong-$S3RVER_SECRET_KEY \
        "$tool" $(s3srv_floe_args S3RVER) put quirk/x "$T/quirk.in" 2>"$T/quirk.err"; then
        pass s3rver.known_quirk_wrong_secret_accepted
    else
        fail "s3rver.known_quirk_wrong_secret_accepted: $(head -1 "$T/quirk.err")"
    fi
    # shellcheck disable=SC2046
    s3srv_env S3RVER "$tool" $(s3srv_floe_args S3RVER) rm quirk/x 2>/dev/null
    crosscheck S3RVER s3rver
    faults S3RVER s3rver "$S3RVER_PORT" --quirks dot-segments
else
    fail objstore_s3.s3rver_start
fi
finish
