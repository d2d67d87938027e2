#!/usr/bin/env bash
# Puts Debian's static busybox for $2 (e.g. arm64) at $1, unpacked from busybox-static:$2:
# installing it would replace the host's own busybox-static.
set -euo pipefail
out=$(realpath -m "$1")
arch=$2
cache=$(dirname "$0")/cache
mkdir -p "$cache"
cd "$cache"
deb=$(ls busybox-static_*_"$arch".deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  apt-get download "busybox-static:$arch" >/dev/null 2>&1 || {
    echo "cannot download busybox-static:$arch: run 'dpkg --add-architecture $arch && apt-get update' as root" >&2
    exit 1
  }
  deb=$(ls busybox-static_*_"$arch".deb | head -n1)
fi
unpacked=$(mktemp -d unpacked.XXXXXX)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
cp "$unpacked"/bin/busybox "$out.tmp"
mv "$out.tmp" "$out"
