"""What a boot run is asked to do (BootRequest), and what the network lab's child process is
handed (NetLabConfig). Both the runner (lab/boot.py) and the lab (lab/netns.py) use them;
neither imports the other."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from workbench.arch import Arch, boot_path_in, by_name
from workbench.errors import WorkbenchError
from workbench.lab.faults import FaultPlan
from workbench.lab.firmware import Firmware

TftpServerKind = Literal["workbench", "atftpd", "dnsmasq"]
TFTP_SERVERS: tuple[TftpServerKind, ...] = ("workbench", "atftpd", "dnsmasq")
# local: the tree as an ESP disk; net: PXE + TFTP; http: UEFI HTTP Boot + HTTP.
BootMode = Literal["local", "net", "http"]
BOOT_MODES: tuple[BootMode, ...] = ("local", "net", "http")
NetProtocol = Literal["tftp", "http"]


@dataclass
class ShimOptions:
    """Boot through shim (Microsoft-signed, as distributions ship it) with the tree's stub as
    shim's second stage; see workbench.lab.shim."""

    # The key enrolled as a MOK; its db pair signs the stub. None: a throwaway test key set.
    keys: Path | None = None
    # False: the stub goes in as it is (unsigned, or signed by someone else).
    sign: bool = True
    # SbatLevel text for shim (rows "NAME,GENERATION"), None: shim's own level.
    sbat_level: str | None = None


@dataclass
class BootRequest:
    root: Path
    mode: BootMode
    # Text that marks success on the serial console. None: the stub starts the kernel and
    # the machine then powers itself off.
    expect: str | None = None
    timeout: float = 120
    log: Path | None = None
    max_resets: int = 0
    secure_boot: bool = False
    vars_template: Path | None = None
    faults: FaultPlan | None = None
    memory_mb: int = 768
    # Which TFTP server the network lab runs: ours, or a peer (atftpd, dnsmasq) to compare.
    tftp_server: TftpServerKind = "workbench"
    tftp_max_window: int = 64
    # A software TPM 2.0 (swtpm) for the guest; the run then checks PCR 11 against workbench pcrs.
    tpm: bool = False
    # net and http: the lab network is IPv6 only (DHCPv6 and router advertisements), and the
    # firmware has no IPv4 stack.
    ipv6: bool = False
    # Boot through shim: the lab lays out shim + the stub as its second stage, enrolls the MOK
    # and boots the firmware with Microsoft's keys. net and http serve that layout as is:
    # shim fetches its second stage next to its own path by TFTP or HTTP.
    shim: ShimOptions | None = None
    # QEMU's gdbstub on this unix socket (`workbench debug`); None: no gdbstub.
    gdb_socket: Path | None = None
    # net and http: this many machines boot at once in one lab (see lab/guests.py).
    guests: int = 1
    # The machine: "x86_64" or "aarch64" (workbench.arch). None: the tree's, by its
    # EFI/BOOT/BOOT*.EFI; a tree with both boot files boots x86_64.
    arch: str | None = None


def request_arch(request: BootRequest) -> Arch:
    """The machine a request boots: as asked, else the tree's (x86_64 first when it has both
    boot files). A WorkbenchError when the tree has no boot file for it."""
    root = Path(request.root)
    if request.arch is not None:
        arch = by_name(request.arch)
        if not (root / arch.boot_path).is_file():
            raise WorkbenchError(
                f"{root}: no {arch.boot_path} (nothing for an {arch.label} machine to boot)"
            )
        return arch
    found = boot_path_in(root)
    if found is None:
        raise WorkbenchError(
            f"{root}: no EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI (nothing for the firmware to boot)"
        )
    return found[0]


def gdbstub_args(socket: Path | None) -> list[str]:
    """QEMU's arguments for a gdbstub on a unix socket; it does not wait for a debugger."""
    return [] if socket is None else ["-gdb", f"unix:{socket},server=on,wait=off"]


@dataclass
class NetLabConfig:
    """Everything the namespace child needs, carried as one JSON file."""

    root: Path
    workdir: Path
    firmware: Firmware
    vars_path: Path
    memory_mb: int
    secure_boot: bool
    faults: FaultPlan | None
    tftp_server: TftpServerKind
    tftp_max_window: int
    tpm: bool = False
    protocol: NetProtocol = "tftp"
    ipv6: bool = False
    gdb_socket: Path | None = None
    guests: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> NetLabConfig:
        data = json.loads(text)
        firmware = data["firmware"]
        return cls(
            root=Path(data["root"]),
            workdir=Path(data["workdir"]),
            firmware=Firmware(
                code=Path(firmware["code"]),
                vars_template=Path(firmware["vars_template"]),
                requires_smm=bool(firmware["requires_smm"]),
                description=Path(firmware["description"]),
                arch=firmware.get("arch", "x86_64"),
            ),
            vars_path=Path(data["vars_path"]),
            memory_mb=int(data["memory_mb"]),
            secure_boot=bool(data["secure_boot"]),
            faults=FaultPlan(**data["faults"]) if data["faults"] else None,
            tftp_server=data["tftp_server"],
            tftp_max_window=int(data["tftp_max_window"]),
            tpm=bool(data.get("tpm", False)),
            protocol=data.get("protocol", "tftp"),
            ipv6=bool(data.get("ipv6", False)),
            gdb_socket=Path(data["gdb_socket"]) if data.get("gdb_socket") else None,
            guests=int(data.get("guests", 1)),
        )
