"""The machines a stub runs on: x86_64 and aarch64 (arm64), and what differs between them.

One table every module reads: the PE machine type, the removable-media boot path, the stub
file, the DHCP client architectures (RFC 4578 option 93 / RFC 5970 option 61) and the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import BadInput


@dataclass(frozen=True)
class Arch:
    name: str  # "x86_64" / "aarch64": what the stub prints, `--arch` takes and QEMU calls it
    label: str  # for people: "x86_64" / "arm64"
    pe_machine: int  # IMAGE_FILE_MACHINE_*
    efi_suffix: str  # "X64" / "AA64", as in BOOTX64.EFI
    stub_file: str  # the stub's file in stub/build and in the package's data
    pxe_client_arch: int  # DHCP option 93 / DHCPv6 option 61 of the firmware's PXE
    http_client_arch: int  # ... and of its HTTP Boot
    console: str  # the serial console the kernel is told about
    # The lab's machine: QEMU's system emulator, its package, the machine type firmware
    # descriptors are matched against, the firmware's package, and QEMU's TPM 2.0 device.
    qemu_system: str = "qemu-system-x86_64"
    qemu_package: str = "qemu-system-x86"
    qemu_machine: str = "pc-q35-7.2"
    firmware_package: str = "ovmf"
    tpm_device: str = "tpm-crb"

    @property
    def boot_path(self) -> str:
        """The removable-media path the firmware boots by default (UEFI 3.5.1.1)."""
        return f"EFI/BOOT/BOOT{self.efi_suffix}.EFI"

    def __str__(self) -> str:
        return self.name


X86_64 = Arch("x86_64", "x86_64", 0x8664, "X64", "stub.efi", 7, 16, "ttyS0")
AARCH64 = Arch(
    "aarch64", "arm64", 0xAA64, "AA64", "stubaa64.efi", 11, 19, "ttyAMA0",
    qemu_system="qemu-system-aarch64", qemu_package="qemu-system-arm", qemu_machine="virt-7.2",
    firmware_package="qemu-efi-aarch64", tpm_device="tpm-tis-device",
)  # fmt: skip
ARCHES = (X86_64, AARCH64)
NAMES = tuple(arch.name for arch in ARCHES)

_ALIASES = {"x64": X86_64, "amd64": X86_64, "aa64": AARCH64, "arm64": AARCH64}


def by_name(name: str) -> Arch:
    """`x86_64`/`aarch64` (and x64, amd64, aa64, arm64), or a one-line BadInput."""
    for arch in ARCHES:
        if arch.name == name:
            return arch
    if name in _ALIASES:
        return _ALIASES[name]
    raise BadInput(f"unknown architecture {name!r} (known: {', '.join(NAMES)})")


def by_machine(machine: int) -> Arch | None:
    """The architecture of a PE machine type, None for one no stub of ours runs on."""
    for arch in ARCHES:
        if arch.pe_machine == machine:
            return arch
    return None


def machine_label(machine: int) -> str:
    """ "x86_64", "arm64", or the raw type ("machine 0x14c") for any other."""
    arch = by_machine(machine)
    return arch.label if arch else f"machine {machine:#x}"


def boot_path_in(root: Path) -> tuple[Arch, Path] | None:
    """The first removable-media boot file present in a tree (x86_64 first), with its arch."""
    for arch in ARCHES:
        path = Path(root) / arch.boot_path
        if path.is_file():
            return arch, path
    return None
