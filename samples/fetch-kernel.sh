#!/usr/bin/env bash
# Puts Debian's cloud kernel (an EFI-stub bzImage) at $1, without installing it.
set -euo pipefail
out=$(realpath -m "$1")
cache=$(dirname "$0")/cache
mkdir -p "$cache"
cd "$cache"

meta=linux-image-cloud-amd64
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
  echo "cannot resolve $meta: run 'apt-get update' (as root) first" >&2
  exit 1
fi
deb=$(ls "${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  apt-get download "$pkg" >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] && apt-get update -qq && apt-get download "$pkg"
  }
  deb=$(ls "${pkg}"_*.deb | head -n1)
fi
rm -rf unpacked && mkdir unpacked
dpkg-deb -x "$deb" unpacked
cp unpacked/boot/vmlinuz-* "$out.tmp"
mv "$out.tmp" "$out"
rm -rf unpacked
