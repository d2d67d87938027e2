#!/usr/bin/env bash
# Unpack Debian package $1 (NAME:ARCH, e.g. busybox-static:arm64) under directory $2, without
# installing it: an arm64 package would replace the host's amd64 one of the same name.
# Needs `dpkg --add-architecture ARCH && apt-get update` once (scripts/system-deps.sh does it).
set -euo pipefail
spec=$1
dest=$(realpath -m "$2")
name=${spec%%:*}
arch=${spec#*:}
cache=$(dirname "$0")/cache
mkdir -p "$cache"
cd "$cache"
deb=$(ls "${name}"_*_"$arch".deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  apt-get download "$spec" >/dev/null 2>&1 || {
    echo "cannot download $spec: run 'dpkg --add-architecture $arch && apt-get update' as root" >&2
    exit 1
  }
  deb=$(ls "${name}"_*_"$arch".deb | head -n1)
fi
rm -rf "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
