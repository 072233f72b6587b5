#!/usr/bin/env bash
# Fault matrix, damaged objects on a real S3 server: tables cool down to
# Swift's S3 API, then awscli (an independent client) overwrites
#   - a segment object with 0 bytes, half of it, random bytes of the same
#     size, or itself with one byte flipped inside a page (trailer intact);
#   - the uploader's remote meta with truncated JSON, random bytes, or the
#     valid meta of another tablet (FLOE_TEST_FULL=1 also: 0 bytes, and a
#     valid meta of this tablet that names another writer).
# A scan that needs a damaged segment fails with one error naming the object
# and prints no row; a damaged meta is named in the followers' logs and
# adopted by nobody (every replica keeps its meta, scans stay correct); a
# restarted uploader that finds its own meta damaged refuses it too and
# writes nothing; no object is deleted because of the damage (the listing
# before and after, and remote_check against every replica's meta); once the
# original object is put back (and the BEs drop the cached damaged blocks)
# scans are correct again and cooling resumes. The damage is reported: the
# scan error, the FE's log (one WARN per replica tried, naming the object),
# the followers' logs for a meta.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/s3servers.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
cluster_init 3
s3srv_start_swift "$T/swift" >&2 || { fail "swift start"; cluster_finish; }
export FC_AK=$SWIFT_ACCESS_KEY FC_SK=$SWIFT_SECRET_KEY
cluster_start || { fail "cluster start"; cluster_finish; }
PFX=fc
S3=("$SWIFT_ENDPOINT" "$SWIFT_ACCESS_KEY" "$SWIFT_SECRET_KEY")
t_start=$(date +%s)
# awscli starts slowly (a second or more): its calls are batched below.
s3() { aws_s3 "${S3[@]}" "$@"; }
# put KEY FILE: one object under the resource prefix
put() { s3 s3api put-object --bucket "$SWIFT_BUCKET" --key "$PFX/$1" --body "$2" >/dev/null; }
# put_tree DIR: every file under DIR to the same key under the resource prefix
put_tree() { s3 s3 cp --recursive --only-show-errors "$1/" "s3://$SWIFT_BUCKET/$PFX/"; }
# keys [SUBPREFIX]: "KEY SIZE" lines (keys relative to the resource prefix)
keys() { s3_keys "${S3[@]}" "$SWIFT_BUCKET" "$PFX${1:+/$1}" | sed "s|^$PFX/||"; }
# rcheck OPTS TABLE...: remote_check of several tables over one listing
rcheck() {
    local opts=$1 t i metas=(); shift
    s3_listing "${S3[@]}" "$SWIFT_BUCKET" "$PFX" "$T/rc.json" || return 1
    for ((i = 1; i <= CLUSTER_N; i++)); do metas+=(--be-meta "$T/be$i/storage/meta"); done
    for t in "$@"; do tablets_json "$t" || return 1; done | python3 -c '
import json, sys
d = json.JSONDecoder(); s = sys.stdin.read().strip(); out = []
while s:
    v, n = d.raw_decode(s); out += v; s = s[n:].strip()
print(json.dumps(out))' | python3 "$FLOE_ROOT/tests/integration/lib/remote_check.py" --s3 "$T/rc.json" "${metas[@]}" $opts
}

phase() { echo "# [$(( $(date +%s) - t_start )) s] $*"; }
check "resource on Swift" fctl resource create sw --type s3 --endpoint "$SWIFT_ENDPOINT" --region us-east-1 \
    --bucket "$SWIFT_BUCKET" --prefix "$PFX" --path-style --access-key-env FC_AK --secret-key-env FC_SK
check "policy 1 s" fctl policy create cool1s --resource sw --cooldown-ttl 1s

seg_cases="empty truncated garbage flip"
declare -A SUM TID SEG
# Hot scans only before the damage: nothing of these tables is in a file
# cache when the damage is planted, so the scans below read the store.
tables=()
for t in $seg_cases m; do
    fctl table create "s_$t" --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 --replicas 3 \
        --policy cool1s >/dev/null || fail "table s_$t"
    gen 0 2000 >"$T/a.csv"
    fctl load "s_$t" "$T/a.csv" >/dev/null || fail "load s_$t"
    SUM[$t]=$(scan_sum "s_$t")
    TID[$t]=$(tablets_field "s_$t" 'r[0]["tablet"]')
    tables+=("s_$t")
done
all_cooled() { local t; for t in "${tables[@]}"; do table_cooled "$t" || return 1; done; }
check "5 tables cooled to Swift" wait_for 120 all_cooled
# one copy of everything (the originals), and the listing before the damage
check "awscli copies every object" s3 s3 cp --recursive --only-show-errors "s3://$SWIFT_BUCKET/$PFX/" "$T/orig/"
(cd "$T/orig" && find data -type f -printf '%p %s\n' | sort) >"$T/keys.before"
echo "# $(wc -l <"$T/keys.before") objects before the damage"
for t in $seg_cases; do
    SEG[$t]=$(awk -v p="data/${TID[$t]}/" 'index($1, p) == 1 && $1 ~ /\.dat$/ { print $1; exit }' "$T/keys.before")
    [ -n "${SEG[$t]}" ] || fail "$t: a segment object of tablet ${TID[$t]}"
done

phase "damaged segments"
# ---- damaged segments ----
for t in $seg_cases; do
    good=$T/orig/${SEG[$t]} bad=$T/plant/${SEG[$t]}
    mkdir -p "$(dirname "$bad")"
    n=$(stat -c %s "$good")
    case $t in
    empty) : >"$bad" ;;
    truncated) head -c $((n / 2)) "$good" >"$bad" ;;
    garbage) head -c "$n" /dev/urandom >"$bad" ;;
    flip) python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[40] ^= 0x5a     # inside the first page; the trailer and footer stay valid
open(sys.argv[2], "wb").write(b)' "$good" "$bad" ;;
    esac
    mkdir -p "$T/restore/$(dirname "${SEG[$t]}")"; cp "$good" "$T/restore/${SEG[$t]}"
done
check "awscli overwrites 4 segments (empty, truncated, garbage, one byte flipped)" put_tree "$T/plant"
# scan_refused TABLE: the scan fails with an error line and prints no row.
scan_refused() {
    local out rc
    out=$(fctl scan "$1" --format csv 2>"$T/scan.err"); rc=$?
    echo "# scan of $1: rc=$rc: $(cat "$T/scan.err")"
    [ $rc -ne 0 ] && [ -s "$T/scan.err" ] && [ "$(printf '%s\n' "$out" | grep -c '^[0-9]')" -eq 0 ]
}
for t in $seg_cases; do
    check "$t segment: scan refused, no row served" scan_refused "s_$t"
    check "$t segment: the error names the object" grep -qF "${SEG[$t]}" "$T/scan.err"
    check "$t segment: the FE log reports the failed replica reads naming the object" \
        grep -qF "${SEG[$t]}" "$T/fe/log"
    check "$t segment: a second scan is refused too (nothing served from a cached copy)" scan_refused "s_$t"
done
all_up() { fe_alive && be_alive 1 && be_alive 2 && be_alive 3; }
check "damaged segments: all nodes still up" all_up
# GC rounds (interval 2 s, grace 2 s) run while the damage is there; the
# damaged objects are still referenced, so nothing may go. This sleep is how
# long the damage stays, not a synchronisation.
sleep 4
keys >"$T/keys.damaged"
same_keys() { diff <(awk '{print $1}' "$T/keys.before") <(awk '{print $1}' "$1") >/dev/null; }
check "damaged segments: no object deleted ($(wc -l <"$T/keys.damaged") of $(wc -l <"$T/keys.before"))" \
    same_keys "$T/keys.damaged"
check "awscli puts the 4 original segments back" put_tree "$T/restore"
# a read that finds a segment damaged drops that object's blocks from the
# reading BE's file cache, so the repaired objects are read afresh, with no
# restart
for t in $seg_cases; do
    check "$t segment: scan correct again once the object is restored (no restart)" \
        test "$(scan_sum "s_$t")" = "${SUM[$t]}"
done
damaged_reported() {
    local i n=0
    for ((i = 1; i <= CLUSTER_N; i++)); do
        n=$((n + $(metric_sum "${BE_HTTP_PORT[$i]}" floe_cooldown_damaged_segment_reads_total)))
    done
    [ "$n" -ge 2 ]
}
check "damaged segments: the BEs count reads that failed a check" damaged_reported
check "damaged segments: a BE log names a damaged segment" \
    grep -qF "remote segment ${SEG[garbage]} of resource" "$T"/be*/log
check "restored segments: every referenced object exists with its size" rcheck --quiet s_empty s_truncated s_garbage s_flip

phase "damaged metas"
# ---- damaged remote metas ----
tm=${TID[m]}
upl=$(tablets_field s_m 'r[0]["fe_cooldown_replica_id"]')
term=$(tablets_field s_m 'r[0]["fe_cooldown_term"]')
meta=data/$tm/$upl.$term.meta
meta_id=$(tablets_field s_m 'r[0]["cooldown_meta_id"]')
cp "$T/orig/$meta" "$T/meta.good" || fail "the remote meta $meta was copied"
other=$(awk -v p="data/${TID[empty]}/" 'index($1, p) == 1 && $1 ~ /\.meta$/ { print $1; exit }' "$T/keys.before")
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
m["replica_id"] += 1000
open(sys.argv[2], "w").write(json.dumps(m))' "$T/meta.good" "$T/meta.writer"
upl_idx=$(uploader_be s_m)
# logs_at: the line count of each BE log ("N1 N2 N3"); named_since AT WHY:
# lines each log got after AT that name the meta and contain WHY
logs_at() { local i; for ((i = 1; i <= CLUSTER_N; i++)); do printf '%s ' "$(wc -l <"$T/be$i/log")"; done; }
named_since() {
    local at=($1) i n=0
    for ((i = 1; i <= CLUSTER_N; i++)); do
        n=$((n + $(tail -n +"$((at[i - 1] + 1))" "$T/be$i/log" | grep -F "$meta" | grep -c -- "$2")))
    done
    echo $n
}
named_after() { [ "$(named_since "$1" "$2")" -gt 0 ]; }
keep_meta() { tablets_true s_m "all(x['cooldown_meta_id'] == '$meta_id' for x in r)"; }
# The empty meta goes first (the meta is intact before it); every other
# damage replaces the previous one (a new ETag, so followers fetch it again)
# and must be named with its own reason.
meta_cases="empty truncated garbage other_tablet"
[ "${FLOE_TEST_FULL:-0}" = 1 ] && meta_cases="$meta_cases other_writer"
for d in $meta_cases; do
    case $d in
    empty) : >"$T/meta.bad"; why='empty object' ;;
    truncated) head -c $(( $(stat -c %s "$T/meta.good") / 2 )) "$T/meta.good" >"$T/meta.bad"; why='premature end' ;;
    garbage) { printf '\367'; head -c 700 /dev/urandom; } >"$T/meta.bad"; why='decode byte 0xf7' ;;
    other_tablet) cp "$T/orig/$other" "$T/meta.bad"; why="tablet_id ${TID[empty]}, expected $tm" ;;
    other_writer) cp "$T/meta.writer" "$T/meta.bad"; why="written by replica $((upl + 1000)) term $term" ;;
    esac
    at=$(logs_at)
    put "$meta" "$T/meta.bad" || fail "$d meta: put it"
    check "$d meta: the followers' logs name the damaged meta ($why)" wait_for 20 named_after "$at" "$why"
    check "$d meta: every replica keeps its meta" keep_meta
    check "$d meta: scan still correct" test "$(scan_sum s_m)" = "${SUM[m]}"
done
check "damaged metas: all nodes still up" all_up

phase "uploader restart"
# The uploader restarted while its own meta is damaged: it refuses the meta
# (names it in its log), publishes nothing over it and deletes nothing.
{ printf '\367'; head -c 700 /dev/urandom; } >"$T/meta.garbage"
check "uploader restart: awscli puts a garbage meta" put "$meta" "$T/meta.garbage"
n_start=$(grep -c '^==== start' "$T/be$upl_idx/log")
be_restart "$upl_idx" || fail "uploader restart: be$upl_idx back"
up_named() { awk -v n="$n_start" '/^==== start/ { s++ } s > n' "$T/be$upl_idx/log" | grep -qF "$meta"; }
check "uploader restart: its log names its damaged meta" wait_for 30 up_named
awk -v n="$n_start" '/^==== start/ { s++ } s > n' "$T/be$upl_idx/log" | grep -F "$meta" | tail -1 | sed 's/^/# /'
sleep 3   # a few cooldown and GC rounds with the damaged meta
check "uploader restart: the damaged meta is not overwritten" cmp -s "$T/meta.garbage" <(s3 s3 cp "s3://$SWIFT_BUCKET/$PFX/$meta" - 2>/dev/null)
check "uploader restart: every replica keeps its meta" keep_meta
check "uploader restart: scan still correct" test "$(scan_sum s_m)" = "${SUM[m]}"
keys >"$T/keys.metas"
check "damaged metas: no object deleted" same_keys "$T/keys.metas"
check "awscli puts the original meta back" put "$meta" "$T/meta.good"
phase "cooling resumes"
gen 2000 500 >"$T/b.csv"
check "load more rows once the meta is restored" fctl load s_m "$T/b.csv"
sum1=$(scan_sum s_m)
check "cooling resumes: all replicas on the uploader's next meta" wait_for 90 table_cooled s_m
check "scan has all 2500 rows" test "${sum1%% *}" = 2500
check "scan unchanged after cooling" test "$(scan_sum s_m)" = "$sum1"
check "every referenced object exists, nothing left over after the handshake" \
    wait_for 60 rcheck "--quiet --no-orphans" "${tables[@]}"
check "all nodes up at the end" all_up
echo "# $(( $(date +%s) - t_start )) s after the cluster start"

cluster_finish
