#!/usr/bin/env bash
# Installs the Debian packages the workbench, its stub build and its tests need.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(
  qemu-system-x86 ovmf gnu-efi dnsmasq-base busybox-static sbsigntool
  mtools dosfstools cpio systemd-boot-efi iproute2 binutils gcc make
  openssl tmux util-linux clang libclang-rt-14-dev atftp atftpd swtpm swtpm-tools
  nginx-light shim-signed ipxe gdb rsyslog
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
