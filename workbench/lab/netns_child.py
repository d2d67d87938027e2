"""Runs INSIDE the private network namespace made by workbench.lab.netns (never outside it).

Brings up lo and a tap device, starts dnsmasq (DHCP only), the TFTP or HTTP server and QEMU,
and writes events as JSON lines to stdout until QEMU ends. Several guests (`guests` > 1) get a
tap each on one bridge that carries the server's address, their own MACs, variable stores and
QMP sockets; each one's events carry its index, and a line "stop N" on stdin ends guest N.
Over IPv6 the namespace gets only IPv6 (dnsmasq answers DHCPv6 and sends router
advertisements) and OVMF loads no IPv4 stack.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.arch import ARCHES, X86_64, Arch, by_name
from workbench.errors import LabFailure, WorkbenchError
from workbench.lab.events import Event, LabFailed, LabNote, RemoteLine, Transfer
from workbench.lab.guests import guest_mac
from workbench.lab.http import HttpServer
from workbench.lab.link_relay import LinkRelay, impairs_link
from workbench.lab.listen import where
from workbench.lab.netns import SERVER_ADDRESS, SERVER_ADDRESS6, TAP_DEVICE, find_tool
from workbench.lab.qemu import MachineSpec, QemuProcess
from workbench.lab.request import NetLabConfig, gdbstub_args
from workbench.lab.syslog_rx import SyslogLine, SyslogReceiver
from workbench.lab.tftp import TftpServer
from workbench.lab.tpm import SoftwareTpm

DHCP_RANGE = "10.0.2.15,10.0.2.50,1h"
# Several guests: their taps are this bridge's ports, and the bridge has the server's address.
BRIDGE = "br0"
SYSLOG_PORT = 514
DHCP6_RANGE = "fd00::10,fd00::50,64,1h"
DHCP_LOG_WORDS = ("DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPNAK", "failed",
                  "DHCPSOLICIT", "DHCPADVERTISE", "DHCPREPLY")  # fmt: skip
BOOT_PATH = X86_64.boot_path
# RFC 4578's "EFI BC" (9): older x86-64 firmware sends it for PXE instead of 7.
EXTRA_PXE_CLIENT_ARCHES = {X86_64.name: (9,)}
# EDK2's HTTP Boot takes only offers that carry its own vendor class back (UEFI 2.10, 24.7.2):
# option 60 "HTTPClient" over DHCPv4; over DHCPv6, option 16, where EDK2 reads "HTTPClient" at
# offset 6 (after a 4-byte enterprise number and a 2-byte length) and nothing else. dnsmasq
# writes option6:16 as 2-byte-length strings whatever the value looks like, so raw bytes cannot
# go in: "wb" fills the enterprise number's place (00 02 'w' 'b', not 343, which EDK2 ignores)
# and "HTTPClient" follows with its length, a well-formed RFC 8415 vendor class.
HTTP_CLIENT_CLASS6 = "wb,HTTPClient"
# OVMF's fw_cfg switches (OvmfPkg PxeBcPcdProducerLib, UefiDriverEntryPointFwCfgOverrideLib).
NO_PXE4 = ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n"]
NO_PXE6 = ["-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"]
NO_IPV4 = ["-fw_cfg", "name=opt/org.tianocore/IPv4Support,string=n"]
# "dnsmasq-dhcp[123]: 1689397516 DHCPACK(tap0) ..." -> "DHCPACK(tap0) ..."
DNSMASQ_PREFIX = re.compile(r"^dnsmasq(?:-dhcp)?\[\d+\]:\s*(?:\d+\s+)?")
_emit_lock = threading.Lock()
# FaultPlan.arp_silent_after: file names whose whole transfer silences ARP on the tap.
_arp_silent_after: set[str] = set()
# The guest of the lab's own events: the only guest (0), or none of several (None).
_lab_guest: list[int | None] = [0]


def emit(event: Event) -> None:
    """An event of the lab itself (servers, dnsmasq): no guest's when there are several."""
    event.guest = _lab_guest[0]
    _write(event)


def guest_publisher(index: int) -> Callable[[Event], None]:
    """What guest `index`'s QEMU publishes through: its events carry its index."""

    def publish(event: Event) -> None:
        event.guest = index
        _write(event)

    return publish


def _write(event: Event) -> None:
    with _emit_lock:
        sys.stdout.write(json.dumps(event.to_dict()) + "\n")
        sys.stdout.flush()
    if _silences_arp(event):
        silence_arp()


def _silences_arp(event: Event) -> bool:
    return (
        isinstance(event, Transfer)
        and event.state == "done"
        and event.filename in _arp_silent_after
    )


def silence_arp() -> None:
    """Stop answering ARP requests on the lab's interface (arp_ignore 8: never reply). Only
    inside the lab's namespace: /proc/sys/net is the writing process's namespace's."""
    Path(f"/proc/sys/net/ipv4/conf/{TAP_DEVICE}/arp_ignore").write_text("8\n")
    emit(LabNote(f"arp: {TAP_DEVICE} stops answering ARP requests (fault)"))


def in_private_namespace() -> bool:
    """Our namespace has no interface but lo before we add the tap device."""
    # /sys/class/net shows the host's interfaces (sysfs follows the mount); ask the kernel.
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def ip(*arguments: str) -> None:
    result = subprocess.run([find_tool("ip"), *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise WorkbenchError(f"ip {' '.join(arguments)}: {result.stderr.strip()}")


def lab_interface(guests: int) -> str:
    """The interface with the server's address: the one tap, or the bridge of several."""
    return TAP_DEVICE if guests == 1 else BRIDGE


def guest_tap(index: int) -> str:
    return TAP_DEVICE if index == 0 else f"tap{index}"


def bring_up_network(ipv6: bool, guests: int = 1) -> None:
    ip("link", "set", "lo", "up")
    interface = lab_interface(guests)
    if guests > 1:
        # No STP, no forwarding delay, no multicast snooping: a port forwards at once, and
        # neighbour discovery reaches every guest without an MLD querier.
        ip("link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0",
           "mcast_snooping", "0")  # fmt: skip
    for index in range(guests):
        ip("tuntap", "add", "dev", guest_tap(index), "mode", "tap")
        if guests > 1:
            ip("link", "set", guest_tap(index), "master", BRIDGE, "up")
    if ipv6:
        # nodad: the address is usable at once (no one else is on this link).
        ip("-6", "addr", "add", f"{SERVER_ADDRESS6}/64", "dev", interface, "nodad")
    else:
        ip("addr", "add", f"{SERVER_ADDRESS}/24", "dev", interface)
    ip("link", "set", interface, "up")


def server_address(config: NetLabConfig) -> str:
    return SERVER_ADDRESS6 if config.ipv6 else SERVER_ADDRESS


def machine_arch(config: NetLabConfig) -> Arch:
    return by_name(config.firmware.arch)


def boot_url(config: NetLabConfig, arch: Arch | None = None) -> str:
    """What DHCP hands the firmware: a TFTP file name, or a URL (HTTP Boot; PXE over IPv6);
    for ARCH's boot file (the machine's by default)."""
    host = f"[{SERVER_ADDRESS6}]" if config.ipv6 else SERVER_ADDRESS
    return f"{config.protocol}://{host}/{(arch or machine_arch(config)).boot_path}"


def served_arches(config: NetLabConfig) -> list[Arch]:
    """The machines the tree has a boot file for; none found (a tree still being made, or a
    made-up one): the lab's machine."""
    root = Path(config.root)
    found = [arch for arch in ARCHES if (root / arch.boot_path).is_file()]
    return found or [machine_arch(config)]


def client_arches(arch: Arch, protocol: str) -> tuple[int, ...]:
    """DHCPv4 option 93 / DHCPv6 option 61 values of ARCH's firmware, for PXE or HTTP Boot."""
    if protocol == "http":
        return (arch.http_client_arch,)
    return (arch.pxe_client_arch, *EXTRA_PXE_CLIENT_ARCHES.get(arch.name, ()))


def client_arch_match(value: int, ipv6: bool) -> str:
    """dnsmasq's --dhcp-match condition for one client architecture. DHCPv6 option 61 has no
    name in dnsmasq 2.90, and a bare number would match a single byte anywhere in it: the
    value goes as its two bytes, which dnsmasq compares at the option's start."""
    if ipv6:
        return f"option6:61,{value >> 8:02x}:{value & 0xFF:02x}"
    return f"option:client-arch,{value}"


def arch_tags(config: NetLabConfig) -> list[tuple[str | None, Arch, list[str]]]:
    """(tag, arch, dnsmasq --dhcp-match options) per boot file: with one boot file in the tree
    every client gets it (tag None); with both, each client the one of its architecture."""
    arches = served_arches(config)
    if len(arches) == 1:
        return [(None, arches[0], [])]
    tagged: list[tuple[str | None, Arch, list[str]]] = []
    for arch in arches:
        tag = f"arch-{arch.name}"
        matches = [f"--dhcp-match=set:{tag},{client_arch_match(value, config.ipv6)}"
                   for value in client_arches(arch, config.protocol)]  # fmt: skip
        tagged.append((tag, arch, matches))
    return tagged


def dhcp_options(config: NetLabConfig) -> list[str]:
    """dnsmasq's DHCP settings: the address range and what it tells a booting client, by its
    architecture when the tree boots more than one."""
    tags = arch_tags(config)
    matches = [match for _, _, arch_matches in tags for match in arch_matches]
    if config.ipv6:
        options = [f"--dhcp-range={DHCP6_RANGE}", "--enable-ra", *matches]
        for tag, arch, _ in tags:
            prefix = f"tag:{tag}," if tag else ""
            options.append(f"--dhcp-option={prefix}option6:bootfile-url,{boot_url(config, arch)}")
        if config.protocol == "http":
            options.append(f"--dhcp-option-force=option6:16,{HTTP_CLIENT_CLASS6}")
        return options
    if config.protocol == "http":
        options = [
            f"--dhcp-range={DHCP_RANGE}",
            "--dhcp-vendorclass=set:efihttp,HTTPClient",
            "--dhcp-option-force=tag:efihttp,60,HTTPClient",
            *matches,
        ]
        for tag, arch, _ in tags:
            prefix = f"tag:efihttp,tag:{tag}," if tag else "tag:efihttp,"
            options.append(f"--dhcp-boot={prefix}{boot_url(config, arch)}")
        return options
    # --dhcp-no-override keeps the boot file in the BOOTP file field, where PXE servers put it
    # and shim looks for it (shim fetches its second stage from that file's directory; from
    # option 67 alone it would ask for "grubx64.efi" at the root).
    # Option 7 (log server) names the syslog receiver; forced: EDK2's PXE does not ask for it.
    options = [f"--dhcp-range={DHCP_RANGE}", *matches]
    for tag, arch, _ in tags:
        prefix = f"tag:{tag}," if tag else ""
        options.append(f"--dhcp-boot={prefix}{arch.boot_path},,{SERVER_ADDRESS}")
    return [*options, "--dhcp-no-override",
            f"--dhcp-option-force=option:log-server,{SERVER_ADDRESS}"]  # fmt: skip


def firmware_switches(config: NetLabConfig) -> list[str]:
    """Which network boot OVMF tries first: HTTP Boot without PXE, IPv6 without IPv4.

    Except that HTTP Boot over IPv6 keeps PXE over IPv6 in front of it. OVMF 2022.11's HTTP
    Boot starts DHCPv6 before its link-local address has passed duplicate address detection,
    gets EFI_NO_MAPPING and gives up without sending a packet (EDK2 fixed it in
    edk2-stable202508: "NetworkPkg/HttpBootDxe: Wait for IPv6 DAD before issuing DHCPv6
    requests"). PXE waits for DAD; it then finds no TFTP file in the answer and gives up, and
    HTTP Boot, next in the boot order, finds the IPv6 stack ready.

    AAVMF (aarch64) 2022.11 honours the PXE switches but not IPv4Support: over IPv6 its PXE
    over IPv4 goes too (else it waits a minute for a DHCPv4 answer that never comes)."""
    if config.protocol != "http":
        if config.ipv6 and machine_arch(config) is not X86_64:
            return NO_PXE4 + NO_IPV4
        return NO_IPV4 if config.ipv6 else []
    return NO_PXE4 + NO_IPV4 if config.ipv6 else NO_PXE4 + NO_PXE6


def start_dnsmasq(config: NetLabConfig, stopping: threading.Event,
                  tftp_root: str | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """DHCP only; with `tftp_root`, dnsmasq's own TFTP server too (a peer to compare)."""
    workdir = config.workdir
    command = [
        find_tool("dnsmasq"),
        "--port=0",  # no DNS
        "--no-resolv",
        "--no-hosts",
        f"--interface={lab_interface(config.guests)}",
        "--bind-interfaces",
        *dhcp_options(config),
        "--log-dhcp",
        "--log-facility=-",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--pid-file=",
        f"--dhcp-leasefile={workdir / 'dnsmasq.leases'}",
        "--user=root",  # its lease file is in our private directory
        "--group=",  # no group change: a user namespace maps no group to switch to
    ]
    if tftp_root is not None:
        command += ["--enable-tftp", f"--tftp-root={tftp_root}"]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip

    def relay() -> None:
        assert process.stderr is not None
        last = ""
        for line in process.stderr:
            line = line.strip()
            last = line or last
            if any(word in line for word in DHCP_LOG_WORDS):
                emit(LabNote(f"dnsmasq: {DNSMASQ_PREFIX.sub('', line)}"))
        code = process.wait()
        if not stopping.is_set():
            emit(LabFailed(f"dnsmasq exited (code {code}): {DNSMASQ_PREFIX.sub('', last)}"))

    threading.Thread(target=relay, daemon=True).start()
    return process


def world_readable_copy(root: Path, staging: Path) -> Path:
    """dnsmasq running as root serves only world-readable files, and a tree's files come from
    atomic (private) writes: it serves a copy instead of changing the user's files."""
    shutil.copytree(root, staging, symlinks=False)
    for path in [staging, *staging.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return staging


@contextlib.contextmanager
def file_server(config: NetLabConfig) -> Iterator[None]:
    """The lab's HTTP server on port 80, or its TFTP server on port 69."""
    if config.protocol == "http":
        bind = server_address(config)
        with HttpServer(config.root, bind=bind, port=80, faults=config.faults, on_event=emit):
            emit(LabNote(f"http: serving {config.root} on {boot_url(config).rsplit('/', 3)[0]}"))
            yield
        return
    # Beside TFTP, plain HTTP (no faults): sections may name http:// URLs after a PXE boot.
    bind = server_address(config)
    with tftp_server(config), HttpServer(config.root, bind=bind, port=80, on_event=emit):
        yield


@contextlib.contextmanager
def tftp_server(config: NetLabConfig) -> Iterator[None]:
    """The lab's TFTP server on port 69: ours, or atftpd as a peer (dnsmasq's own TFTP server,
    the other peer, is started with dnsmasq itself)."""
    root, kind = str(config.root), config.tftp_server
    address = server_address(config)
    if kind == "dnsmasq":
        emit(LabNote(f"tftp: dnsmasq serves a copy of {root} on port 69"))
        yield
        return
    if kind == "atftpd":
        command = [find_tool("atftpd"), "--daemon", "--no-fork", "--logfile", "/dev/null",
                   "--user", "root", "--group", "root", "--no-multicast",
                   "--bind-address", address, "--port", "69", root]  # fmt: skip
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        emit(LabNote(f"tftp: atftpd (pid {process.pid}) serves {root} on port 69"))
        try:
            yield
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            process.kill()
        return
    with TftpServer(config.root, bind=address, port=69, faults=config.faults,
                    on_event=emit, max_window=config.tftp_max_window):  # fmt: skip
        emit(LabNote(f"tftp: serving {root} on {where(address, 69)}"))
        yield


def publish_syslog(line: SyslogLine) -> None:
    emit(RemoteLine(line.source, line.text, hostname=line.hostname, app=line.app,
                    severity=line.severity))  # fmt: skip


@contextlib.contextmanager
def syslog_receiver(config: NetLabConfig) -> Iterator[None]:
    """Syslog on the boot server's address: a netbooted stub sends its console lines there."""
    address = server_address(config)
    with SyslogReceiver(address, SYSLOG_PORT, publish_syslog) as receiver:
        emit(LabNote(f"syslog: listening on {where(address, SYSLOG_PORT)}"))
        yield
    if receiver.dropped:
        emit(LabNote(f"syslog: {receiver.dropped} datagram(s) dropped ({receiver.last_drop})"))


def run(config: NetLabConfig) -> int:
    if not in_private_namespace():
        raise LabFailure("refusing to start DHCP: not inside a private network namespace")
    workdir = config.workdir
    if config.guests > 1:
        _lab_guest[0] = None
    bring_up_network(config.ipv6, config.guests)
    if config.faults:
        _arp_silent_after.update(config.faults.arp_silent_after)
    network = f"{SERVER_ADDRESS6}/64 (IPv6 only)" if config.ipv6 else f"{SERVER_ADDRESS}/24"
    interface = lab_interface(config.guests)
    if config.guests > 1:
        taps = ", ".join(guest_tap(i) for i in range(config.guests))
        emit(LabNote(f"private network: {interface} {network}, ports {taps}"))
    else:
        emit(LabNote(f"private network: {interface} {network}"))
    dnsmasq: subprocess.Popen[str] | None = None
    qemus: list[QemuProcess] = []
    stopping = threading.Event()
    dnsmasq_tftp = None
    if config.tftp_server == "dnsmasq":
        dnsmasq_tftp = str(world_readable_copy(config.root, workdir / "tftp-root"))
    tpm: SoftwareTpm | None = None
    with syslog_receiver(config), file_server(config), contextlib.ExitStack() as stack:
        try:
            dnsmasq = start_dnsmasq(config, stopping, dnsmasq_tftp)
            offered = DHCP6_RANGE if config.ipv6 else DHCP_RANGE
            emit(LabNote(f"dnsmasq (pid {dnsmasq.pid}): DHCP only on {interface}, {offered}"))
            if config.tpm:
                tpm = stack.enter_context(SoftwareTpm())
                emit(LabNote(f"swtpm (pid {tpm.process.pid if tpm.process else '?'}): TPM 2.0"))
            relay = None
            if config.faults is not None and impairs_link(config.faults):
                relay = LinkRelay(TAP_DEVICE, workdir, config.faults, lambda t: emit(LabNote(t)))
                stack.enter_context(relay)
            specs = [
                MachineSpec(
                    tpm_socket=tpm.socket if tpm is not None else None,
                    dgram_link=relay.link if relay is not None else None,
                    firmware=config.firmware,
                    vars_path=guest_vars(config, index),
                    qmp_path=workdir / ("qmp.sock" if index == 0 else f"qmp{index}.sock"),
                    memory_mb=config.memory_mb,
                    secure_boot=config.secure_boot,
                    tap_device=guest_tap(index),
                    mac=guest_mac(index) if config.guests > 1 else None,
                    extra_args=firmware_switches(config) + gdbstub_args(config.gdb_socket),
                    arch=machine_arch(config),
                )
                for index in range(config.guests)
            ]
            for index, spec in enumerate(specs):
                qemu = QemuProcess(spec, emit if config.guests == 1 else guest_publisher(index))
                qemus.append(qemu)
                qemu.start()
            if config.guests > 1:
                threading.Thread(target=obey_stops, args=(qemus,), daemon=True).start()
            for qemu in qemus:
                assert qemu.process is not None
                qemu.process.wait()
        finally:
            stopping.set()
            for qemu in qemus:
                qemu.stop()
            if dnsmasq is not None:
                dnsmasq.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    dnsmasq.wait(timeout=2)
                dnsmasq.kill()
    return 0


def guest_vars(config: NetLabConfig, index: int) -> Path:
    """Guest 0 boots with the run's copy of the variable store, others with copies of it made
    before any guest starts (the firmware writes to its store)."""
    if index == 0:
        return config.vars_path
    path = config.workdir / f"vars{index}.fd"
    shutil.copyfile(config.vars_path, path)
    return path


def obey_stops(qemus: list[QemuProcess]) -> None:
    """The run ends a guest whose outcome it knows by a line "stop N" on our stdin."""
    for line in sys.stdin:
        word, _, number = line.strip().partition(" ")
        if word == "stop" and number.isdigit() and int(number) < len(qemus):
            threading.Thread(target=qemus[int(number)].stop, daemon=True).start()


def main(argv: list[str]) -> int:
    # A TERM from the parent ends the run through the finally blocks above.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(NetLabConfig.from_json(Path(argv[0]).read_text()))
    except (WorkbenchError, OSError) as error:
        emit(LabFailed(str(error)))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
