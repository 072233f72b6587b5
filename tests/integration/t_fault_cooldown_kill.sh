#!/usr/bin/env bash
# Fault matrix, process crashes during cooldown: the BE holding a tablet's
# cooldown replica (or a follower) is restarted with a fault point armed to
# crash (_exit 86) at one step of the protocol, crashes there, and is started
# again without faults. After each crash:
#   - the scan returns exactly the rows it returned before (checksum),
#   - every replica converges to the same remote meta, all data remote,
#   - every object the current meta references exists with its size,
#   - unreferenced objects are collected by the delete handshake.
# CI runs one case per step family (upload, meta, swap, follow, GC, cold
# compaction's meta write); FLOE_TEST_FULL=1 runs every fault point.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null
check "resource and 2 s policy created" test $? -eq 0

tables=()
next_key=0

# new_table NAME: one tablet, 3 replicas, the 2 s policy; waits until every
# replica holds the FE's cooldown conf.
new_table() {
    fctl table create "$1" --schema "k:int64,ts:timestamp,v:double,s:string?" --key k --buckets 1 \
        --replicas 3 --policy cool2s >/dev/null || return 1
    tables+=("$1")
    wait_for 30 tablets_true "$1" 'all(x.get("reported") and x["cooldown_term"] >= 1 and x["cooldown_term"] == x["fe_cooldown_term"] for x in r)'
}
# load_rows TABLE N: loads N fresh keys.
load_rows() {
    gen "$next_key" "$2" >"$T/rows.csv"
    next_key=$((next_key + $2))
    fctl load "$1" "$T/rows.csv" >/dev/null
}

# crash_case POINT ROLE [LOADS]: ROLE is uploader or follower. LOADS loads
# of 500 rows each go in before the crash is awaited.
crash_case() {
    local point=$1 role=$2 loads=${3:-1} tbl idx sum0 i
    tbl=c_${point//./_}
    if ! new_table "$tbl"; then fail "$point: table with conf"; return; fi
    idx=$(${role}_be "$tbl") || { fail "$point: find the $role"; return; }
    be_restart "$idx" "$point=crash" || { fail "$point: restart be$idx armed"; return; }
    cluster_wait_alive 3 30 || { fail "$point: be$idx back alive"; return; }
    for ((i = 0; i < loads; i++)); do load_rows "$tbl" 500 || { fail "$point: load"; return; }; done
    sum0=$(scan_sum "$tbl")
    be_wait_exit "$idx" 90
    check "$point: $role be$idx crashed at the fault point (exit 86)" test "$EXIT_RC" = 86
    be_start "$idx" "" && be_wait_up "$idx"
    check "$point: cluster converges, all replicas cooled on one meta" wait_for 90 table_cooled "$tbl"
    check "$point: scan unchanged (no row lost or duplicated)" test "$(scan_sum "$tbl")" = "$sum0"
    check "$point: every referenced object exists" remote_check "$tbl" --quiet
}

# plant_orphan TABLE: an unreferenced object, older than the grace, in the
# table's first tablet prefix (what a crashed upload of long ago leaves).
plant_orphan() {
    local tid
    tid=$(tablets_field "$1" 'r[0]["tablet"]')
    mkdir -p "$CLUSTER_REMOTE/data/$tid"
    head -c 1000 /dev/urandom >"$CLUSTER_REMOTE/data/$tid/00000000-0000-4000-8000-00000000dead_0.dat"
    touch -d '-1 hour' "$CLUSTER_REMOTE/data/$tid/00000000-0000-4000-8000-00000000dead_0.dat"
}

# gc_crash_case POINT: an orphan planted under a cooled table; its uploader
# crashes at the GC point; after the restart the orphan is collected and
# nothing referenced is touched.
gc_crash_case() {
    local point=$1 tbl=g_${1//./_} idx sum0
    if ! new_table "$tbl"; then fail "$point: table with conf"; return; fi
    load_rows "$tbl" 500 || { fail "$point: load"; return; }
    wait_for 60 table_cooled "$tbl" || { fail "$point: table cooled before the GC case"; return; }
    sum0=$(scan_sum "$tbl")
    idx=$(uploader_be "$tbl")
    be_restart "$idx" "$point=crash" || { fail "$point: restart be$idx armed"; return; }
    plant_orphan "$tbl"
    be_wait_exit "$idx" 90
    check "$point: uploader be$idx crashed in GC (exit 86)" test "$EXIT_RC" = 86
    be_start "$idx" "" && be_wait_up "$idx"
    check "$point: orphan collected after restart" wait_for 90 no_orphans "$tbl"
    check "$point: scan unchanged" test "$(scan_sum "$tbl")" = "$sum0"
    check "$point: every referenced object exists" remote_check "$tbl" --quiet
}

if [ "${FLOE_TEST_FULL:-0}" = 1 ]; then
    upload_points="cooldown.intent cooldown.upload cooldown.after_upload cooldown.meta_write cooldown.after_meta_write cooldown.local_swap cooldown.after_swap"
    gc_points="cooldown.gc.delete cooldown.gc.after_delete"
else
    upload_points="cooldown.after_upload cooldown.after_meta_write cooldown.local_swap"
    gc_points="cooldown.gc.delete"
fi
for p in $upload_points; do crash_case "$p" uploader; done
crash_case cooldown.follow.after_swap follower
for p in $gc_points; do gc_crash_case "$p"; done

# Cold compaction: 11 rowsets cool down together (the uploader merges remote
# rowsets above 10). The uploader crashes after writing the remote meta that
# lists the merged rowset but before its local meta does
# (cooldown.cold_compaction.meta_write): after the restart it adopts its own
# meta, every replica ends on the merged rowset, the merged-away objects go
# through the delete handshake (no orphans, checked below) and nothing
# referenced is missing. FLOE_TEST_FULL=1 also crashes it right after the
# upload of the merged rowset (cooldown.cold_compaction.after_upload).
[ "${FLOE_TEST_FULL:-0}" = 1 ] && crash_case cooldown.cold_compaction.after_upload uploader 11
crash_case cooldown.cold_compaction.meta_write uploader 11
cold_merged() {
    tablets_true "$1" 'all(x["cooldowned_version"] >= x["version"] for x in r)' || return 1
    local n
    n=$(python3 -c '
import json, sys
print(max(len([s for s in json.load(open(p)).get("rowsets", []) if s.get("location", "local") != "local"])
          for p in sys.argv[1:]))' "$T"/be*/storage/meta/"$(tablets_field "$1" 'r[0]["tablet"]')".json) || return 1
    [ "$n" -lt 11 ]
}
check "cooldown.cold_compaction.meta_write: the merged rowset is in every replica's meta" \
    wait_for 60 cold_merged c_cooldown_cold_compaction_meta_write

# Everything the crashes left behind is collected by the handshake, and
# nothing referenced went missing.
for t in "${tables[@]}"; do
    check "$t: no orphans left after the handshake rounds" wait_for 90 no_orphans "$t"
    check "$t: every referenced object still exists" remote_check "$t" --quiet
done
all_up() { fe_alive && be_alive 1 && be_alive 2 && be_alive 3; }
check "all nodes up at the end" all_up
cluster_finish
