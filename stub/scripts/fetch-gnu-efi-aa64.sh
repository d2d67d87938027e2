#!/bin/sh
# Unpack Debian's gnu-efi:arm64 (headers, crt objects, libefi, libgnuefi) under $1: it cannot
# be installed beside gnu-efi:amd64, and the arm64 stub only needs its files.
# Needs `dpkg --add-architecture arm64 && apt-get update` once (scripts/system-deps.sh does it).
set -eu
dest=$(realpath -m "$1")
cache=$(dirname "$dest")/debs
mkdir -p "$cache"
cd "$cache"
deb=$(ls gnu-efi_*_arm64.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    apt-get download gnu-efi:arm64 >/dev/null 2>&1 || {
        echo "cannot download gnu-efi:arm64: run 'dpkg --add-architecture arm64 && apt-get update' as root" >&2
        exit 1
    }
    deb=$(ls gnu-efi_*_arm64.deb | head -n1)
fi
rm -rf "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
