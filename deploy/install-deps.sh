#!/usr/bin/env bash
# Installs the Debian packages floe needs to build and test, only those that
# are missing. Idempotent and quiet. Usage: deploy/install-deps.sh [build|test|all]
#   build: compiler, meson, libraries (enough for quickstart)
#   test:  build + Check + the S3 test peers (Swift's S3 API, s3rver, awscli)
set -euo pipefail
what=${1:-all}

build_pkgs=(meson ninja-build pkg-config gcc clang libcurl4-openssl-dev libssl-dev
            libjansson-dev libzstd-dev libxml2-dev libmicrohttpd-dev check curl
            ca-certificates)
test_pkgs=(swift-proxy swift-account swift-container swift-object python3-swift
           memcached awscli libclang-rt-14-dev llvm procps psmisc)

pkgs=("${build_pkgs[@]}")
[ "$what" = build ] || pkgs+=("${test_pkgs[@]}")
# Node.js + npm for s3rver: Debian's packages unless a node with npm is there.
if [ "$what" != build ] && ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$what" != build ]; then
    # s3rver (npm), pinned; installed under tests/.npm so nothing global changes.
    here=$(cd "$(dirname "$0")/.." && pwd)
    if [ ! -x "$here/tests/.npm/node_modules/.bin/s3rver" ]; then
        echo "install-deps: installing s3rver@3.7.1 (npm)"
        mkdir -p "$here/tests/.npm"
        (cd "$here/tests/.npm" && npm install --silent --no-audit --no-fund --prefix . s3rver@3.7.1 >/dev/null)
    fi
fi
exit 0
