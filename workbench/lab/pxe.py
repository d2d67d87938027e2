"""A boot server's DHCP side on a real network: dnsmasq as ProxyDHCP (beside the site's own DHCP
server) or as a full DHCP server (an isolated network the user owns), and its log as events.

dnsmasq hands out the boot file (PXE, TFTP) or the boot URL (UEFI HTTP Boot) for the client's
architecture (option 93) and nothing else: no DNS (`--port=0`), no TFTP of its own (ours serves
the files), only on one interface. With `--log-dhcp` it writes one line per packet and the
packet's details on lines around it, all with the transaction ID; `DnsmasqLog` folds them into
one `ClientEvent` per packet. Nothing here knows of Textual.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import LabFailure, MissingTool, WorkbenchError


@dataclass(frozen=True)
class ClientArch:
    """One client system type of RFC 4578 / the IANA registry that we answer."""

    code: int  # DHCP option 93
    machine: str  # "x64" or "aa64": which boot file
    protocol: str  # "tftp" (PXE) or "http" (UEFI HTTP Boot)
    name: str


BOOT_FILES = {"x64": "EFI/BOOT/BOOTX64.EFI", "aa64": "EFI/BOOT/BOOTAA64.EFI"}
MACHINE_NAMES = {"x64": "x86-64 UEFI", "aa64": "arm64 UEFI"}
# EDK2 sends 7 for x86-64 PXE; 9 is what RFC 4578 calls x86-64 and some firmware sends.
ARCHITECTURES = {
    arch.code: arch
    for arch in (
        ClientArch(7, "x64", "tftp", "x86-64 UEFI PXE"),
        ClientArch(9, "x64", "tftp", "x86-64 UEFI PXE"),
        ClientArch(16, "x64", "http", "x86-64 UEFI HTTP"),
        ClientArch(11, "aa64", "tftp", "arm64 UEFI PXE"),
        ClientArch(19, "aa64", "http", "arm64 UEFI HTTP"),
    )
}
MENU_TEXT = "Stub Workbench"
LEASE_TIME = "1h"


def arch_name(code: int | None) -> str:
    if code is None:
        return "?"
    known = ARCHITECTURES.get(code)
    return known.name if known else f"arch {code}"


# -- the interface ---------------------------------------------------------------------------

SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B


@dataclass(frozen=True)
class Interface:
    name: str
    address: str
    netmask: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.address}/{self.netmask}", strict=False)


def interface_ipv4(name: str) -> Interface:
    """The interface's (first) IPv4 address and netmask; a one-line error when there is none."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        raise WorkbenchError(f"--interface {name}: no such network interface") from None
    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            address = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)[20:24]
            netmask = fcntl.ioctl(sock.fileno(), SIOCGIFNETMASK, request)[20:24]
        except OSError:
            raise WorkbenchError(f"--interface {name}: has no IPv4 address") from None
    return Interface(name, socket.inet_ntoa(address), socket.inet_ntoa(netmask))


# -- what dnsmasq is told --------------------------------------------------------------------


@dataclass
class PxeConfig:
    """What the DHCP side offers. `dhcp_range` None is ProxyDHCP (the site's server hands out
    addresses); else FIRST,LAST of a full DHCP server's pool."""

    interface: Interface
    machines: tuple[str, ...] = ("x64",)
    http: bool = False
    dhcp_range: tuple[str, str] | None = None
    lease_file: Path | None = None
    http_port: int = 80

    @property
    def proxy(self) -> bool:
        return self.dhcp_range is None

    def boot_url(self, machine: str) -> str:
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{self.interface.address}{port}/{BOOT_FILES[machine]}"

    def offered(self) -> list[tuple[ClientArch, str]]:
        """(architecture, boot file or URL) for every client type answered."""
        offers = []
        for arch in ARCHITECTURES.values():
            if arch.machine not in self.machines:
                continue
            if arch.protocol == "http" and not self.http:
                continue
            target = (
                self.boot_url(arch.machine) if arch.protocol == "http" else BOOT_FILES[arch.machine]
            )
            offers.append((arch, target))
        return offers


def dhcp_range_option(config: PxeConfig) -> str:
    netmask = config.interface.netmask
    if config.dhcp_range is None:
        return f"--dhcp-range={config.interface.network.network_address},proxy,{netmask}"
    first, last = config.dhcp_range
    return f"--dhcp-range={first},{last},{netmask},{LEASE_TIME}"


def boot_options(config: PxeConfig) -> list[str]:
    """The boot file or URL by option 93, PXE and HTTPClient alike."""
    server = config.interface.address
    options: list[str] = []
    if config.http:
        # EDK2's HTTP Boot takes only offers that carry its vendor class back (UEFI 24.7.2).
        options.append("--dhcp-vendorclass=set:httpclient,HTTPClient")
        if config.proxy:
            # ProxyDHCP answers only "PXEClient" unless told of the other vendor class; it
            # then sends option 60 back as the client sent it.
            options.append("--dhcp-pxe-vendor=PXEClient,HTTPClient")
        else:
            options.append("--dhcp-option-force=tag:httpclient,60,HTTPClient")
    for arch, target in config.offered():
        tag = f"arch{arch.code}"
        if arch.protocol == "http":
            options += [f"--dhcp-match=set:{tag},option:client-arch,{arch.code}",
                        f"--dhcp-boot=tag:httpclient,tag:{tag},{target}"]  # fmt: skip
        elif config.proxy:
            # One service per type: dnsmasq puts the file straight into the answer (no menu).
            options.append(f"--pxe-service={arch.code},{MENU_TEXT},{target},{server}")
        else:
            options += [f"--dhcp-match=set:{tag},option:client-arch,{arch.code}",
                        f"--dhcp-boot=tag:{tag},tag:!httpclient,{target},,{server}"]  # fmt: skip
    if not config.proxy:
        # The boot file in the BOOTP file field, where PXE clients (and shim) look for it; and
        # no default route through us (dnsmasq names itself otherwise): we route nothing.
        options += ["--dhcp-no-override", "--dhcp-option=option:router"]
    return options


def dnsmasq_command(config: PxeConfig, dnsmasq: str = "dnsmasq") -> list[str]:
    command = [
        dnsmasq,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",  # no DNS
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        f"--interface={config.interface.name}",
        "--bind-interfaces",
        dhcp_range_option(config),
        *boot_options(config),
        "--log-dhcp",
        "--log-facility=-",
    ]
    if config.lease_file is not None:
        command.append(f"--dhcp-leasefile={config.lease_file}")
    if os.geteuid() == 0:
        # Debian's dnsmasq-base would switch to a "dnsmasq" user that only the dnsmasq
        # package creates; nobody is always there (dnsmasq keeps the capabilities DHCP
        # needs). In a user namespace that maps no nobody, it stays who it is.
        command += (
            ["--user=nobody", "--group=nogroup"] if nobody_mapped() else ["--user=root", "--group="]
        )
    return command


NOBODY = 65534


def nobody_mapped(uid_map: str | None = None) -> bool:
    """Whether this user namespace maps the uid `nobody` has (the initial one maps all)."""
    if uid_map is None:
        try:
            uid_map = Path("/proc/self/uid_map").read_text()
        except OSError:
            return True
    for line in uid_map.splitlines():
        inside, _, count = (int(part) for part in line.split())
        if inside <= NOBODY < inside + count:
            return True
    return False


def find_dnsmasq() -> str:
    path = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    if path is None:
        raise MissingTool("dnsmasq not found (install Debian's dnsmasq-base)")
    return path


# -- its log ---------------------------------------------------------------------------------


@dataclass
class ClientEvent:
    """One DHCP packet dnsmasq saw or sent, with what its log said about it.

    `kind` is dnsmasq's word: DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPACK, DHCPNAK, ...; for
    ProxyDHCP "proxy-offer" (the answer to a DISCOVER, without an address), "proxy-ack" (the
    answer to the request on port 4011: the boot file) or "proxy-ignored". `file` is the boot
    file or URL the answer carried."""

    kind: str
    mac: str | None = None
    address: str | None = None
    xid: int | None = None
    arch: int | None = None
    vendor: str | None = None
    hostname: str | None = None
    file: str | None = None
    server: str | None = None
    interface: str | None = None
    detail: str | None = None
    t: float = field(default=0.0)

    @property
    def answered(self) -> bool:
        """An answer from us (offer, ack, proxy offer, boot file)."""
        return self.kind in ("DHCPOFFER", "DHCPACK", "DHCPNAK", "proxy-offer", "proxy-ack")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "dhcp", **asdict(self), "arch_name": arch_name(self.arch)}


# "dnsmasq-dhcp[123]: " (stderr) with an optional syslog-like time in front.
_PREFIX = re.compile(r"^(?:\w{3} [ \d]\d \d\d:\d\d:\d\d )?(dnsmasq(?:-dhcp)?)(?:\[\d+\])?:\s*")
_XID = re.compile(r"^(\d+) (.*)$")
_MAC = r"(?:[0-9a-f]{2}[:-]){5,}[0-9a-f]{2}"
_IP = r"\d+\.\d+\.\d+\.\d+"
# "DHCPACK(br0) 192.168.77.120 52:54:00:12:34:56 name", "PXE(br0) 52:54:00:.. proxy".
_PACKET = re.compile(
    rf"^(?P<kind>DHCP[A-Z]+|PXE|BOOTP)\((?P<iface>[^)]*)\)\s+(?:(?P<ip>{_IP})\s+)?"
    rf"(?:(?P<mac>{_MAC})\s*)?(?P<rest>.*)$",
    re.IGNORECASE,
)
_ARCH = re.compile(r":Arch:(\d{5})")
_MESSAGE_TYPE = re.compile(r"^sent size:\s*1 option:\s*53 message-type\s+(\d+)")
PROXY_KINDS = {2: "proxy-offer", 5: "proxy-ack"}  # DHCPOFFER, DHCPACK without an address


@dataclass
class _Pending:
    xid: int
    events: list[ClientEvent] = field(default_factory=list)
    vendor: str | None = None
    hostname: str | None = None
    file: str | None = None
    server: str | None = None


class DnsmasqLog:
    """dnsmasq's --log-dhcp lines in, `ClientEvent`s out. A packet's lines come together, so
    its event is complete when the next packet's first line (or `flush()`) arrives."""

    def __init__(self) -> None:
        self._pending: _Pending | None = None
        self.notes: list[str] = []  # lines that are not about one client (start-up, errors)

    def feed(self, line: str) -> list[ClientEvent]:
        line = line.rstrip("\r\n")
        prefix = _PREFIX.match(line)
        body = line[prefix.end() :] if prefix else line.strip()
        if not body:
            return []
        match = _XID.match(body)
        if match is None:
            self.notes.append(body)
            return self.flush()
        xid, text = int(match.group(1)), match.group(2)
        done: list[ClientEvent] = []
        # Each packet's lines begin with the subnet or range it came in on; two machines may
        # send the same transaction ID (OVMF's first one is the same on identical guests).
        if self._pending is None or self._pending.xid != xid or text.startswith("available DHCP"):
            done = self.flush()
            self._pending = _Pending(xid)
        self._take(self._pending, text)
        return done

    def flush(self) -> list[ClientEvent]:
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        for event in pending.events:
            event.vendor = event.vendor or pending.vendor
            event.hostname = event.hostname or pending.hostname
            if event.answered:
                event.file = event.file or pending.file
                event.server = event.server or pending.server
            if event.arch is None and event.vendor:
                found = _ARCH.search(event.vendor)
                event.arch = int(found.group(1)) if found else None
        return pending.events

    @staticmethod
    def _take(pending: _Pending, text: str) -> None:
        if text.startswith("vendor class: "):
            pending.vendor = text.removeprefix("vendor class: ")
        elif text.startswith("client provides name: "):
            pending.hostname = text.removeprefix("client provides name: ")
        elif text.startswith("bootfile name: "):
            pending.file = text.removeprefix("bootfile name: ")
        elif text.startswith("next server: "):
            pending.server = text.removeprefix("next server: ")
        elif (sent := _MESSAGE_TYPE.match(text)) is not None:
            # A ProxyDHCP answer's log line says "proxy" whether it offers or acknowledges.
            last = pending.events[-1] if pending.events else None
            if last is not None and last.kind == "proxy":
                last.kind = PROXY_KINDS.get(int(sent.group(1)), "proxy")
        elif (packet := _PACKET.match(text)) is not None:
            kind, rest = packet.group("kind").upper(), packet.group("rest").strip()
            event = ClientEvent(kind, packet.group("mac"), packet.group("ip"), pending.xid,
                                interface=packet.group("iface"))  # fmt: skip
            if kind == "PXE":
                if rest in ("proxy", "proxy-ignored"):
                    event.kind = rest
                else:  # a boot server's answer (a menu item chosen) names the file it sends
                    event.kind, event.file = "proxy-ack", rest or None
            elif rest:
                # DHCPACK's host name, or why dnsmasq would not answer ("no address available").
                event.detail = rest
            pending.events.append(event)


# -- the process -----------------------------------------------------------------------------

STOP_GRACE = 2.0
FLUSH_SECONDS = 0.3
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """dnsmasq must not outlive us (a DHCP server left answering on someone's network)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class DnsmasqService:
    """dnsmasq in the foreground; its log parsed into `on_event` (ClientEvent) and `on_note`
    (start-up and error lines). `start()` returns once dnsmasq listens, or raises its reason."""

    def __init__(self, config: PxeConfig, on_event: Callable[[ClientEvent], None],
                 on_note: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.config = config
        self.on_event = on_event
        self.on_note = on_note
        self.process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._last = ""
        self.exit_reason: str | None = None

    def command(self) -> list[str]:
        return dnsmasq_command(self.config, find_dnsmasq())

    def start(self, timeout: float = 5.0) -> DnsmasqService:
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True, name="dnsmasq")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._started.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._thread.join(timeout=1)
                reason = self._last or f"exit code {self.process.poll()}"
                self.stop()
                raise LabFailure(f"dnsmasq did not start: {reason}")
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        log = DnsmasqLog()
        stream = self.process.stderr
        pending = b""
        while True:
            ready, _, _ = select.select([stream], [], [], FLUSH_SECONDS)
            if not ready:
                self._publish(log.flush())
                continue
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._line(log, raw.decode("utf-8", "replace"))
        self._publish(log.flush())
        code = self.process.wait()
        if not self._stopping.is_set():
            self.exit_reason = f"dnsmasq exited (code {code}): {self._last}"
            if self.on_note is not None and self._started.is_set():
                self.on_note(f"exited (code {code})")

    def _line(self, log: DnsmasqLog, line: str) -> None:
        before = len(log.notes)
        self._publish(log.feed(line))
        for note in log.notes[before:]:
            self._last = note
            # "DHCP, proxy on subnet ..." / "DHCP, IP range ...": the DHCP socket is bound.
            if note.startswith("DHCP, "):
                self._started.set()
            if self.on_note is not None:
                self.on_note(note)
        del log.notes[:]

    def _publish(self, events: list[ClientEvent]) -> None:
        for event in events:
            self.on_event(event)

    def stop(self) -> None:
        self._stopping.set()
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE)
            if process.poll() is None:
                process.kill()
        process.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> DnsmasqService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- checks before anything starts -----------------------------------------------------------


def missing_boot_files(root: Path, machines: tuple[str, ...]) -> list[str]:
    """The boot files of offered architectures that ROOT lacks, as 'EFI/BOOT/X.EFI (arch)'."""
    return [
        f"{BOOT_FILES[machine]} ({MACHINE_NAMES[machine]})"
        for machine in machines
        if not (root / BOOT_FILES[machine]).is_file()
    ]


CAP_NET_BIND_SERVICE = 10
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
NEEDED_CAPABILITIES = {
    CAP_NET_BIND_SERVICE: "CAP_NET_BIND_SERVICE",
    CAP_NET_ADMIN: "CAP_NET_ADMIN",
    CAP_NET_RAW: "CAP_NET_RAW",
}


def missing_capabilities(status: str | None = None) -> list[str]:
    """Capabilities a non-root boot server lacks (ports below 1024; dnsmasq's DHCP sockets)."""
    if status is None:
        if os.geteuid() == 0:
            return []
        status = Path("/proc/self/status").read_text()
    effective = 0
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            effective = int(line.split()[1], 16)
    return [name for bit, name in NEEDED_CAPABILITIES.items() if not effective >> bit & 1]
