"""Every machine a boot server sees, as rows: `ClientTable` keyed by MAC and IP address.

Three sources feed it: dnsmasq's DHCP events (`workbench.lab.pxe.ClientEvent`: MAC, address,
architecture, the offer), our TFTP/HTTP servers' `Transfer` events (by the client's address)
and syslog lines (by the sender's address). The DHCP side ties an address to a MAC; a transfer
or line from an address no DHCP event named gets a row of its own, merged once the address is
known. `describe_*` turn each event into the one line `workbench serve --pxe` prints and
`event_record` into its JSON object; a TUI screen can show `rows()` instead. No Textual here.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan
from workbench.lab.http import HttpServer
from workbench.lab.listen import port_holder
from workbench.lab.pxe import (
    ClientEvent,
    DnsmasqService,
    PxeConfig,
    arch_name,
    find_dnsmasq,
    missing_boot_files,
    missing_capabilities,
)
from workbench.lab.syslog_rx import SyslogLine, SyslogReceiver
from workbench.lab.tftp import DEFAULT_MAX_SESSIONS, DEFAULT_MAX_WINDOW, TftpServer
from workbench.textsafe import printable

SYSLOG_KEPT = 200  # console lines kept per machine
# Rows at most: syslog is UDP, and spoofed sources must not grow the table without bound.
MOST_MACHINES = 1024


@dataclass
class FileRow:
    """One file a machine fetched (the latest transfer of that name)."""

    name: str
    protocol: str
    state: str
    bytes: int = 0
    total: int | None = None
    seconds: float = 0.0
    retransmits: int = 0
    error: str | None = None
    attempts: int = 0

    @property
    def rate(self) -> float | None:
        """Bytes per second, once there is time to divide by."""
        return self.bytes / self.seconds if self.seconds > 0 else None


@dataclass
class Machine:
    mac: str | None
    address: str | None = None
    arch: int | None = None
    vendor: str | None = None
    hostname: str | None = None
    offer: str | None = None  # the boot file or URL we sent
    dhcp: list[str] = field(default_factory=list)  # DHCP kinds seen, in order
    files: dict[str, FileRow] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    errors: int = 0
    last_seen: float = 0.0

    @property
    def key(self) -> str:
        return self.mac or f"ip:{self.address}"


def neighbour_mac(address: str, arp_table: Path = Path("/proc/net/arp")) -> str | None:
    """The MAC the kernel's ARP cache holds for `address` (a client that just talked to us).
    ProxyDHCP never learns the address the site's server gave: this ties the two."""
    try:
        lines = arp_table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # IP address, HW type, Flags (0x0: incomplete), HW address, Mask, Device
        if len(fields) >= 4 and fields[0] == address and fields[2] != "0x0":
            return fields[3].lower()
    return None


class ClientTable:
    """Rows per machine, updated from any thread; `on_change(machine)` after each update,
    still under the table's lock (it must not block; it may read the row whole).
    `resolve_mac` names the MAC behind an address no DHCP event named (the ARP cache)."""

    def __init__(self, on_change: Callable[[Machine], None] | None = None,
                 resolve_mac: Callable[[str], str | None] = neighbour_mac) -> None:  # fmt: skip
        # Reentrant: on_change runs under it (a row is read whole, never mid-update).
        self._lock = threading.RLock()
        self._by_mac: dict[str, Machine] = {}
        self._by_address: dict[str, Machine] = {}
        self.on_change = on_change
        self.resolve_mac = resolve_mac

    def rows(self) -> list[Machine]:
        """Every machine once, in the order first seen (those known by MAC first)."""
        with self._lock:
            unique = {id(m): m for m in [*self._by_mac.values(), *self._by_address.values()]}
        return list(unique.values())

    def machine_at(self, address: str) -> Machine | None:
        with self._lock:
            return self._by_address.get(address)

    def _by_ip(self, address: str) -> Machine:
        machine = self._by_address.get(address)
        if machine is not None and machine.mac is not None:
            return machine
        mac = self.resolve_mac(address)
        if mac is not None:
            known = self._by_mac.get(mac)
            if known is None:
                known = self._by_mac[mac] = Machine(mac)
            self._bind(known, address)
            return known
        if machine is None:
            machine = self._by_address[address] = Machine(None, address)
        return machine

    def dhcp(self, event: ClientEvent) -> Machine | None:
        if event.mac is None:
            return None
        mac = event.mac.lower()
        with self._lock:
            machine = self._by_mac.get(mac)
            if machine is None:
                machine = self._by_mac[mac] = Machine(mac)
            if event.address and event.kind not in ("DHCPNAK", "DHCPDISCOVER"):
                self._bind(machine, event.address)
            machine.arch = event.arch if event.arch is not None else machine.arch
            machine.vendor = event.vendor or machine.vendor
            machine.hostname = event.hostname or machine.hostname
            if event.answered and event.file:
                machine.offer = event.file
            machine.dhcp.append(event.kind)
            machine.last_seen = time.monotonic()
            self._changed(machine)
        return machine

    def _bind(self, machine: Machine, address: str) -> None:
        """Tie an address to a MAC's row, taking in what a row of that address alone had."""
        known = self._by_address.get(address)
        if known is not None and known is not machine and known.mac is None:
            for name, row in known.files.items():
                machine.files.setdefault(name, row)
            machine.console.extend(known.console)
            machine.errors += known.errors
        if machine.address and machine.address != address:
            self._by_address.pop(machine.address, None)
        machine.address = address
        self._by_address[address] = machine

    def transfer(self, event: Transfer) -> Machine:
        with self._lock:
            machine = self._by_ip(event.client)
            row = machine.files.get(event.filename)
            if row is None or event.state == "started":  # a new attempt of that file
                attempts = row.attempts if row is not None else 0
                row = FileRow(event.filename, event.protocol, event.state, attempts=attempts)
                machine.files[event.filename] = row
            if event.state == "started":
                row.attempts += 1
            row.state = event.state
            row.bytes, row.total = event.bytes, event.total
            row.seconds, row.retransmits = event.seconds, event.retransmits
            row.error = event.error
            if event.state == "failed":
                machine.errors += 1
            machine.last_seen = time.monotonic()
            self._changed(machine)
        return machine

    def console_line(self, source: str, text: str) -> Machine | None:
        """The line under its machine; None (dropped) from a new source once the table is
        full."""
        with self._lock:
            if source not in self._by_address and self._count() >= MOST_MACHINES:
                return None
            machine = self._by_ip(source)
            machine.console.append(text)
            del machine.console[:-SYSLOG_KEPT]
            machine.last_seen = time.monotonic()
            self._changed(machine)
        return machine

    def _count(self) -> int:
        return len({id(m) for m in [*self._by_mac.values(), *self._by_address.values()]})

    def _changed(self, machine: Machine) -> None:
        if self.on_change is not None:
            self.on_change(machine)


# -- the lines and JSON objects `serve --pxe` prints ------------------------------------------


def who(machine: Machine | None, address: str | None = None) -> str:
    """'MAC ADDRESS' with '-' for what is not known yet."""
    mac = machine.mac if machine is not None and machine.mac else "-"
    shown = address or (machine.address if machine is not None else None) or "-"
    return f"{mac} {shown}"


def describe_dhcp(event: ClientEvent) -> str:
    """`MAC ADDRESS dhcp KIND arch=... [offer FILE] [vendor ...]`."""
    mac = event.mac or "-"
    line = f"{mac} {event.address or '-'} dhcp {event.kind}"
    if event.arch is not None:
        line += f" arch={event.arch} ({arch_name(event.arch)})"
    if event.answered and event.file:
        line += f" offer {printable(event.file)}"
    if event.answered and event.server:
        line += f" from {event.server}"  # a PXE offer names the server it sends the client to
    if event.kind in ("DHCPDISCOVER", "proxy-offer") and event.vendor:
        line += f" vendor {printable(event.vendor)}"
    if event.detail:
        line += f": {printable(event.detail)}"
    return line


def _rate(bytes_sent: int, seconds: float) -> str:
    if seconds <= 0:
        return ""
    rate = bytes_sent / seconds
    return f", {rate / 1e6:.1f} MB/s" if rate >= 1e6 else f", {rate / 1e3:.1f} kB/s"


def describe_transfer(event: Transfer, machine: Machine | None) -> str:
    """`MAC ADDRESS tftp STATE NAME SENT/TOTAL bytes [in Ns, R MB/s, N resent][: error]`."""
    size = f"{event.bytes}/{event.total}" if event.total is not None else str(event.bytes)
    line = f"{who(machine, event.client)} {event.protocol} {event.state} "
    line += f"{printable(event.filename)} {size} bytes"
    if event.state == "started" and event.blksize:
        line += f" blksize={event.blksize} window={event.window}"
    if event.state in ("done", "failed", "progress"):
        line += f" in {event.seconds:.2f}s{_rate(event.bytes, event.seconds)}"
        if event.retransmits:
            line += f", {event.retransmits} resent"
    if event.error:
        line += f": {printable(event.error)}"
    return line


def describe_console(source: str, text: str, machine: Machine | None) -> str:
    """`MAC ADDRESS syslog TEXT` (the text arrives escaped by the syslog receiver)."""
    return f"{who(machine, source)} syslog {text}"


def dhcp_record(event: ClientEvent) -> dict[str, Any]:
    return event.to_dict()


def transfer_record(event: Transfer, machine: Machine | None) -> dict[str, Any]:
    record = event.to_dict()
    record.update(type="transfer", mac=machine.mac if machine else None, address=event.client)
    record["rate"] = round(event.bytes / event.seconds) if event.seconds > 0 else None
    return record


def console_record(source: str, app: str, severity: int, text: str,
                   machine: Machine | None) -> dict[str, Any]:  # fmt: skip
    return {"type": "syslog", "mac": machine.mac if machine else None, "address": source,
            "app": app, "severity": severity, "text": text}  # fmt: skip


# -- the boot server: dnsmasq, TFTP, HTTP and syslog feeding one table -----------------------

TFTP_PORT = 69
HTTP_PORT = 80
SYSLOG_PORT = 514
DHCP_PORT = 67
PXE_PORT = 4011

OnOutput = Callable[[str, dict[str, Any]], None]


@dataclass
class BootServerSettings:
    root: Path
    config: PxeConfig
    faults: FaultPlan | None = None
    max_window: int = DEFAULT_MAX_WINDOW
    max_sessions: int = DEFAULT_MAX_SESSIONS
    syslog: bool = True


def ports_needed(settings: BootServerSettings) -> list[tuple[str, int, str | None, str]]:
    """(protocol, port, address or None for any, what for) of every socket we will open."""
    address = settings.config.interface.address
    # dnsmasq binds DHCP (and the PXE port) on every address, tied to the interface.
    needed = [("udp", DHCP_PORT, None, "DHCP"), ("udp", TFTP_PORT, address, "TFTP")]
    if settings.config.proxy:
        needed.append(("udp", PXE_PORT, None, "PXE"))
    if settings.config.http:
        needed.append(("tcp", HTTP_PORT, address, "HTTP"))
    if settings.syslog:
        needed.append(("udp", SYSLOG_PORT, address, "syslog"))
    return needed


def check_before_start(settings: BootServerSettings) -> None:
    """Everything that would stop the server, as one-line errors, before anything starts."""
    root = settings.root
    if not root.is_dir():
        raise WorkbenchError(f"{root}: no such directory to serve")
    missing = missing_boot_files(root, settings.config.machines)
    if missing:
        listed = ", ".join(missing)
        raise WorkbenchError(f"{root} has no boot file for an offered architecture: {listed} "
                             "(build one, or choose others with --arch)")  # fmt: skip
    lacking = missing_capabilities()
    if lacking:
        raise WorkbenchError(f"a boot server needs root or {', '.join(lacking)} (ports below "
                             "1024, dnsmasq's DHCP sockets); see docs/serve.md")  # fmt: skip
    find_dnsmasq()
    for protocol, port, address, purpose in ports_needed(settings):
        holder = port_holder(protocol, port, address)
        if holder is not None:
            where_ = f"{address}:{port}" if address else f"port {port}"
            raise WorkbenchError(f"{purpose} {protocol.upper()} {where_} is in use by {holder}")


class BootServer:
    """dnsmasq (ProxyDHCP or DHCP), our TFTP server, with `http` our HTTP server, and a syslog
    receiver, all on one interface's address; every event lands in `table` and comes out of
    `on_output` as (line, JSON record)."""

    def __init__(self, settings: BootServerSettings, on_output: OnOutput) -> None:
        self.settings = settings
        self.on_output = on_output
        self.table = ClientTable()
        self._stack = contextlib.ExitStack()
        self.dnsmasq: DnsmasqService | None = None

    def note(self, text: str) -> None:
        self.on_output(f"serve: {printable(text)}", {"type": "note", "text": text})

    def _dhcp(self, event: ClientEvent) -> None:
        self.table.dhcp(event)
        self.on_output(describe_dhcp(event), dhcp_record(event))

    def _transfer(self, event: Transfer) -> None:
        machine = self.table.transfer(event)
        self.on_output(describe_transfer(event, machine), transfer_record(event, machine))

    def _syslog(self, line: SyslogLine) -> None:
        # The stub's lines already begin "stub: " (its APP-NAME too): not twice.
        text = line.text
        if line.app and not text.startswith(f"{line.app}:"):
            text = f"{line.app}: {text}"
        machine = self.table.console_line(line.source, text)
        record = console_record(line.source, line.app, line.severity, line.text, machine)
        self.on_output(describe_console(line.source, text, machine), record)

    def start(self) -> BootServer:
        settings, config = self.settings, self.settings.config
        address = config.interface.address
        try:
            self._stack.enter_context(
                TftpServer(settings.root, bind=address, port=TFTP_PORT, faults=settings.faults,
                           on_event=self._transfer, max_window=settings.max_window,
                           max_sessions=settings.max_sessions))  # fmt: skip
            self.note(f"tftp: serving {settings.root} read-only on {address}:{TFTP_PORT}")
            if config.http:
                self._stack.enter_context(
                    HttpServer(settings.root, bind=address, port=config.http_port,
                               faults=settings.faults, on_event=self._transfer))  # fmt: skip
                self.note(f"http: serving {settings.root} read-only on "
                          f"http://{address}:{config.http_port}/")  # fmt: skip
            if settings.syslog:
                receiver = SyslogReceiver(address, SYSLOG_PORT, self._syslog)
                self._stack.enter_context(receiver)
                self.note(f"syslog: console lines on {address}:{SYSLOG_PORT}/udp")
            if config.lease_file is None:
                # dnsmasq keeps a lease file even as ProxyDHCP: a private one, not the host's.
                scratch = tempfile.mkdtemp(prefix="workbench-serve-")
                self._stack.callback(shutil.rmtree, scratch, True)
                config.lease_file = Path(scratch, "dnsmasq.leases")
            self.dnsmasq = DnsmasqService(config, self._dhcp, self._dnsmasq_note)
            self._stack.enter_context(self.dnsmasq)
        except BaseException:
            self._stack.close()
            raise
        for arch, target in config.offered():
            self.note(f"offer: option 93 = {arch.code} ({arch.name}) -> {target}")
        return self

    def _dnsmasq_note(self, text: str) -> None:
        if not text.startswith("compile time options"):  # its build, not this run
            self.note(f"dnsmasq: {text}")

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> BootServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
