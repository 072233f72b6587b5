#!/usr/bin/env bash
# Fault matrix, operations racing cooldown:
#   - a BE restarts with a half-written / damaged file cache: damaged blocks
#     are dropped or refetched, never served; the scan is unchanged;
#   - a replica loses its disk and is re-cloned (repair) while an orphan
#     waits for GC: the handshake waits for the replicas to agree, then
#     collects it; nothing referenced is deleted, the clone holds the remote
#     rowsets by meta, the scan is unchanged;
#   - a table is dropped while its uploader is in the middle of an upload:
#     every replica goes, nothing of the tablet stays under its remote
#     prefix, and the other tables are untouched.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

CLUSTER_FE_CONF="cooldown_conf_check_interval_s = 1"
CLUSTER_BE_CONF="$FAST_COOL_BE_CONF
compaction_enabled = false
file_cache_block_kb = 64"
cluster_init 3
cluster_start || { fail "cluster start"; cluster_finish; }
schema="k:int64,ts:timestamp,v:double,s:string?"
fctl resource create store --type local --root "$CLUSTER_REMOTE" >/dev/null &&
    fctl policy create cool2s --resource store --cooldown-ttl 2s >/dev/null
check "resource and 2 s policy" test $? -eq 0

# ---- half-written file cache ----
fctl table create h1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s >/dev/null
gen 0 20000 >"$T/h.csv"
check "h1: load 20000 rows" fctl load h1 "$T/h.csv"
sum_h=$(scan_sum h1)
check "h1: cooled" wait_for 90 table_cooled h1
check "h1: scan from the cache" test "$(scan_sum h1)" = "$sum_h"
u=$(uploader_be h1)
cache_files() { find "$T/be$u/cache" -type f | wc -l; }
check "h1: the serving BE (be$u) has cached blocks" test "$(cache_files)" -gt 0
be_kill "$u"
n=0
for f in $(find "$T/be$u/cache" -type f | sort); do
    case $((n % 3)) in
    0) truncate -s $(( $(stat -c %s "$f") / 2 )) "$f" ;;               # half-written block
    1) printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc status=none ;;  # damaged bytes
    2) : ;;                                                              # intact
    esac
    n=$((n + 1))
done
head -c 5000 /dev/urandom >"$T/be$u/cache/.partial-download.tmp"        # an interrupted download
be_start "$u" "" && be_wait_up "$u"
check "h1: BE restarted on the damaged cache" cluster_wait_alive 3 30
check "h1: scan unchanged (damaged blocks not served)" test "$(scan_sum h1)" = "$sum_h"
check "h1: scan unchanged again (cache rebuilt)" test "$(scan_sum h1)" = "$sum_h"

# ---- clone (repair) while GC waits ----
fctl table create r1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s >/dev/null
gen 20000 3000 >"$T/r.csv"
check "r1: load" fctl load r1 "$T/r.csv"
sum_r=$(scan_sum r1)
check "r1: cooled" wait_for 90 table_cooled r1
tid=$(tablets_field r1 'r[0]["tablet"]')
f=$(follower_be r1)
be_kill "$f"
rm -rf "$T/be$f/storage" "$T/be$f/cache"; mkdir -p "$T/be$f/storage" "$T/be$f/cache"
orphan=$CLUSTER_REMOTE/data/$tid/00000000-0000-4000-8000-0000000000c3_0.dat
head -c 999 /dev/urandom >"$orphan"; touch -d '-1 hour' "$orphan"
be_start "$f" "" && be_wait_up "$f"
check "r1: follower be$f back with an empty disk" cluster_wait_alive 3 30
check "r1: replica re-cloned and cooled again on all three" wait_for 120 table_cooled r1
check "r1: orphan collected once the replicas agree" wait_for 90 no_orphans r1
check "r1: every referenced object exists" remote_check r1 --quiet
check "r1: scan unchanged" test "$(scan_sum r1)" = "$sum_r"
clone_local() { python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if m["rowsets"] and all(r.get("location", "local") != "local" for r in m["rowsets"]) else 1)' "$T/be$f/storage/meta/$tid.json"; }
check "r1: the clone holds the remote rowsets by meta" wait_for 30 clone_local

# ---- drop while cooling ----
fctl table create d1 --schema "$schema" --key k --buckets 1 --replicas 3 --policy cool2s >/dev/null
check "d1: conf on every replica" wait_for 30 tablets_true d1 'all(x.get("reported") and x["cooldown_term"] >= 1 for x in r)'
did=$(tablets_field d1 'r[0]["tablet"]')
u=$(uploader_be d1)
be_restart "$u" "cooldown.after_upload=delay:5000"
check "d1: uploader restarted with a 5 s stall after its upload" cluster_wait_alive 3 30
gen 30000 2000 >"$T/d.csv"
check "d1: load" fctl load d1 "$T/d.csv"
uploading() { [ -n "$(find "$CLUSTER_REMOTE/data/$did" -name '*.dat' 2>/dev/null)" ]; }
check "d1: the uploader is mid-upload (segments written, meta not yet)" wait_for 30 uploading
check "d1: drop while the upload is in flight" fctl table drop d1
gone_local() { local i; for ((i = 1; i <= CLUSTER_N; i++)); do [ ! -e "$T/be$i/storage/meta/$did.json" ] || return 1; done; }
check "d1: every replica dropped" wait_for 60 gone_local
# A drop waits for the replica's step in flight, and the FE drops the last
# replica (which deletes the remote prefix, even when a report dropped it
# locally first) only after the others: nothing of the interrupted upload,
# segments or metas, outlives the drop.
prefix_gone() { [ -z "$(find "$CLUSTER_REMOTE/data/$did" -type f 2>/dev/null)" ]; }
check "d1: nothing left under data/$did after the drop" wait_for 30 prefix_gone
left=$(find "$CLUSTER_REMOTE/data/$did" -type f 2>/dev/null | sed "s|$CLUSTER_REMOTE/||" | tr '\n' ' ')
[ -z "$left" ] || echo "# d1: objects left under data/$did: $left"
check "h1 and r1 untouched by the drop" bash -c '[ "$1" = "$2" ]' _ "$(scan_sum r1)" "$sum_r"
check "every referenced object of h1 exists" remote_check h1 --quiet
check "every referenced object of r1 exists" remote_check r1 --quiet

cluster_finish
