#!/usr/bin/env bash
# Puts Debian's cloud kernel at $1, without installing it: for amd64 (the default) an EFI-stub
# bzImage, for arm64 ($2 = arm64) an uncompressed Image, itself a PE/COFF EFI application.
set -euo pipefail
out=$(realpath -m "$1")
arch=${2:-amd64}
cache=$(dirname "$0")/cache
mkdir -p "$cache"
cd "$cache"

meta=linux-image-cloud-$arch:$arch
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
pkg=${pkg%%:*}
if [ -z "$pkg" ]; then
  echo "cannot resolve $meta: run 'apt-get update' (as root) first" >&2
  [ "$arch" = amd64 ] || echo "(and 'dpkg --add-architecture $arch' before it)" >&2
  exit 1
fi
deb=$(ls "${pkg}"_*_"$arch".deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  apt-get download "$pkg:$arch" >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] && apt-get update -qq && apt-get download "$pkg:$arch"
  }
  deb=$(ls "${pkg}"_*_"$arch".deb | head -n1)
fi
unpacked=$(mktemp -d unpacked.XXXXXX)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
cp "$unpacked"/boot/vmlinuz-* "$out.tmp"
mv "$out.tmp" "$out"
