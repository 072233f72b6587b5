#!/usr/bin/env bash
# Quickstart: installs what is missing, builds floe into ./build, and runs the
# binaries. (The local FE + 3 BE cluster tour is added as the FE and BE land.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./deploy/install-deps.sh build
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null
for b in floe-fe floe-be floectl; do
    find build -name "$b" -type f -executable -exec {} --version \;
done
