#!/usr/bin/env bash
# Quickstart: installs what is missing, builds floe into ./build, starts a
# local cluster (one floe-fe + 3 floe-be on loopback, the embedded local
# object store under the cluster directory), creates a table whose data cools
# down 10 s after it is written, loads sample rows, and shows the tablets
# before and after cooling and a scan of the cooled data. The cluster keeps
# running afterwards; the last lines say how to use and stop it.
#
#   deploy/quickstart.sh [DIR]     DIR defaults to $FLOE_LOCAL_DIR or /tmp/floe-local
#
# A cluster left running in DIR by an earlier quickstart is stopped and its
# directory removed first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=${1:-${FLOE_LOCAL_DIR:-/tmp/floe-local}}
case "$dir" in -h|--help) sed -n '2,13p' "$0"; exit 0 ;; esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {   # prints the command as one could paste it, then runs it
    local a line='$'
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then line+=" $a"; else line+=" \"$a\""; fi
    done
    printf '%s\n' "$line"
    "$@"
}

say "installing what is missing and building ./build"
./deploy/install-deps.sh build
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=debugoptimized >/dev/null
else
    meson configure build -Dbuildtype=debugoptimized -Dfaults=false >/dev/null
fi
if ! ninja -C build >build/quickstart-build.log 2>&1; then
    tail -30 build/quickstart-build.log >&2
    echo "quickstart: the build failed (full log: build/quickstart-build.log)" >&2
    exit 1
fi
for b in floe-fe floe-be floectl; do
    find build -name "$b" -type f -executable -exec {} --version \;
done
ctl=$(find build -name floectl -type f -executable | head -1)
export PATH=$root/$(dirname "$ctl"):$PATH

if [ -d "$dir/run" ]; then
    say "stopping the cluster an earlier quickstart left in $dir"
    ./deploy/stop-local.sh --purge "$dir"
fi
rm -rf "$dir"

say "starting floe-fe and 3 floe-be on loopback"
./deploy/start-local.sh --bes 3 --dir "$dir"
# shellcheck disable=SC1091
. "$dir/env"

alive() { floectl --json backends | python3 -c 'import json,sys; print(sum(b["alive"] for b in json.load(sys.stdin)))'; }
deadline=$(( $(date +%s) + 60 ))
until [ "$(alive 2>/dev/null)" = 3 ]; do
    [ "$(date +%s)" -lt $deadline ] || { echo "quickstart: the FE does not list 3 alive backends after 60 s; logs in $dir/*/log" >&2; exit 1; }
    sleep 0.2
done
run floectl backends

say "a resource (the local object store), a 10 s cooldown policy and a table using it"
run floectl resource create local --type local --root "$dir/remote"
run floectl policy create cool10s --resource local --cooldown-ttl 10s
run floectl table create events --schema "k:int64,ts:timestamp,v:double,s:string?" --key k \
    --buckets 3 --replicas 3 --policy cool10s

say "loading 20000 sample rows"
python3 tests/integration/lib/gen_rows.py 0 20000 >"$dir/events.csv"
head -3 "$dir/events.csv"
run floectl load events "$dir/events.csv"
scan_sum() { floectl scan events --format csv | tail -n +2 | sort | sha256sum | cut -c1-16; }
before=$(scan_sum)

# show the tablets once every replica has reported its sizes to the FE
reported() {
    floectl --json tablets events | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if all(x.get("reported") and (x["local_bytes"] > 0 or x["cooldowned_version"] >= x["version"]) for x in r) else 1)'
}
deadline=$(( $(date +%s) + 30 ))
until reported 2>/dev/null || [ "$(date +%s)" -ge $deadline ]; do sleep 0.2; done

say "tablets right after the load: data is local on every replica"
run floectl tablets events

say "waiting for the data to cool down (10 s ttl, then one upload per tablet)"
cooled() {
    floectl --json tablets events | python3 -c '
import json, sys
r = json.load(sys.stdin)
done = sum(1 for x in r if x["cooldowned_version"] >= x["version"] and x["local_bytes"] == 0)
print(done, len(r))'
}
deadline=$(( $(date +%s) + 180 ))
last=
while :; do
    read -r done total < <(cooled)
    [ "$done" != "$last" ] && printf '  %s of %s replicas cooled\n' "$done" "$total" && last=$done
    [ "$done" = "$total" ] && break
    [ "$(date +%s)" -lt $deadline ] || { echo "quickstart: data did not cool down in 180 s; logs in $dir/*/log" >&2; exit 1; }
    sleep 1
done

say "tablets after cooling: one uploader per tablet (COOLDOWN_REPLICA_ID), local bytes gone, data remote"
run floectl tablets events
printf '$ find %s -type f | sort | head\n' "$dir/remote"
find "$dir/remote" -type f | sort | head
echo "   ($(find "$dir/remote" -type f | wc -l) objects in all: one meta per tablet, one object per segment)"

say "scanning the cooled data (read from the object store through the file cache)"
run floectl scan events --where "k < 5" --format csv
after=$(scan_sum)
rows=$(floectl scan events --columns k --format csv | tail -n +2 | wc -l)
echo "rows: $rows; checksum of the full scan before cooling $before, after cooling $after"
[ "$before" = "$after" ] || { echo "quickstart: the scan changed after cooling" >&2; exit 1; }

say "metrics (Prometheus text) on every node's http_port"
be_http=$(floectl --json backends | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["http_port"])')
printf '$ curl -s http://127.0.0.1:%s/metrics | grep -E "upload|cache_(hits|misses)"\n' "$be_http"
curl -s "http://127.0.0.1:$be_http/metrics" | grep -v '^#' | grep -E 'upload|cache_(hits|misses)' | head -8 || true

say "done"
cat <<EOF
The cluster keeps running. Use it from this shell with:
    . $dir/env
    floectl tables
    floectl scan events --where "v > 990" --limit 10
Logs: $dir/fe/log, $dir/be1/log ... ; configs next to them.
Stop it:   deploy/stop-local.sh $dir
Stop it and delete its data:   deploy/stop-local.sh --purge $dir
EOF
