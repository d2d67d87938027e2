#!/usr/bin/env bash
# Installs the Debian packages the workbench, its stub build and its tests need.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(
  qemu-system-x86 ovmf gnu-efi dnsmasq-base busybox-static sbsigntool
  mtools dosfstools cpio systemd-boot-efi iproute2 binutils gcc make
  openssl tmux util-linux clang libclang-rt-14-dev atftp atftpd swtpm swtpm-tools
  nginx-light shim-signed ipxe gdb rsyslog
  gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-system-arm qemu-efi-aarch64 gdb-multiarch
)
# Downloaded and unpacked, never installed (they would replace the amd64 packages):
# gnu-efi:arm64 (stub/scripts/fetch-gnu-efi-aa64.sh), busybox-static:arm64 and
# linux-image-cloud-arm64 (samples/). apt needs the arm64 architecture for them.
foreign_arch=arm64

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

has_foreign_arch() { dpkg --print-foreign-architectures | grep -qx "$foreign_arch"; }

[ ${#missing[@]} -eq 0 ] && has_foreign_arch && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages; run as root:" >&2
  has_foreign_arch || echo "  dpkg --add-architecture $foreign_arch" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

has_foreign_arch || dpkg --add-architecture "$foreign_arch"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}"
