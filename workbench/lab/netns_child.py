"""Runs INSIDE the private network namespace made by workbench.lab.netns (never outside it).

Brings up lo and a tap device, starts dnsmasq (DHCP only), the TFTP server and QEMU, and writes
events as JSON lines to stdout until QEMU ends.
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
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import LabFailure, WorkbenchError
from workbench.lab.events import Event, LabFailed, LabNote
from workbench.lab.netns import SERVER_ADDRESS, TAP_DEVICE, find_tool
from workbench.lab.qemu import MachineSpec, QemuProcess
from workbench.lab.request import NetLabConfig
from workbench.lab.tftp import TftpServer
from workbench.lab.tpm import SoftwareTpm

DHCP_RANGE = "10.0.2.15,10.0.2.50,1h"
DHCP_LOG_WORDS = ("DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPNAK", "failed")
# "dnsmasq-dhcp[123]: 1689397516 DHCPACK(tap0) ..." -> "DHCPACK(tap0) ..."
DNSMASQ_PREFIX = re.compile(r"^dnsmasq(?:-dhcp)?\[\d+\]:\s*(?:\d+\s+)?")
_emit_lock = threading.Lock()


def emit(event: Event) -> None:
    with _emit_lock:
        sys.stdout.write(json.dumps(event.to_dict()) + "\n")
        sys.stdout.flush()


def in_private_namespace() -> bool:
    """Our namespace has no interface but lo before we add the tap device."""
    # /sys/class/net shows the host's interfaces (sysfs follows the mount); ask the kernel.
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def ip(*arguments: str) -> None:
    result = subprocess.run([find_tool("ip"), *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise WorkbenchError(f"ip {' '.join(arguments)}: {result.stderr.strip()}")


def bring_up_network() -> None:
    ip("link", "set", "lo", "up")
    ip("tuntap", "add", "dev", TAP_DEVICE, "mode", "tap")
    ip("addr", "add", f"{SERVER_ADDRESS}/24", "dev", TAP_DEVICE)
    ip("link", "set", TAP_DEVICE, "up")


def start_dnsmasq(workdir: Path, stopping: threading.Event,
                  tftp_root: str | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """DHCP only; with `tftp_root`, dnsmasq's own TFTP server too (a peer to compare)."""
    command = [
        find_tool("dnsmasq"),
        "--port=0",  # no DNS
        "--no-resolv",
        "--no-hosts",
        f"--interface={TAP_DEVICE}",
        "--bind-interfaces",
        f"--dhcp-range={DHCP_RANGE}",
        f"--dhcp-boot=EFI/BOOT/BOOTX64.EFI,,{SERVER_ADDRESS}",
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
def tftp_server(config: NetLabConfig) -> Iterator[None]:
    """The lab's TFTP server on SERVER_ADDRESS:69: ours, or atftpd as a peer (dnsmasq's own TFTP
    server, the other peer, is started with dnsmasq itself)."""
    root, kind = str(config.root), config.tftp_server
    if kind == "dnsmasq":
        emit(LabNote(f"tftp: dnsmasq serves a copy of {root} on {SERVER_ADDRESS}:69"))
        yield
        return
    if kind == "atftpd":
        command = [find_tool("atftpd"), "--daemon", "--no-fork", "--logfile", "/dev/null",
                   "--user", "root", "--group", "root", "--no-multicast",
                   "--bind-address", SERVER_ADDRESS, "--port", "69", root]  # fmt: skip
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        emit(LabNote(f"tftp: atftpd (pid {process.pid}) serves {root} on {SERVER_ADDRESS}:69"))
        try:
            yield
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            process.kill()
        return
    with TftpServer(config.root, bind=SERVER_ADDRESS, port=69, faults=config.faults,
                    on_event=emit, max_window=config.tftp_max_window):  # fmt: skip
        emit(LabNote(f"tftp: serving {root} on {SERVER_ADDRESS}:69"))
        yield


def run(config: NetLabConfig) -> int:
    if not in_private_namespace():
        raise LabFailure("refusing to start DHCP: not inside a private network namespace")
    workdir = config.workdir
    bring_up_network()
    emit(LabNote(f"private network: {TAP_DEVICE} {SERVER_ADDRESS}/24"))
    dnsmasq: subprocess.Popen[str] | None = None
    qemu: QemuProcess | None = None
    stopping = threading.Event()
    dnsmasq_tftp = None
    if config.tftp_server == "dnsmasq":
        dnsmasq_tftp = str(world_readable_copy(config.root, workdir / "tftp-root"))
    tpm: SoftwareTpm | None = None
    with tftp_server(config), contextlib.ExitStack() as stack:
        try:
            dnsmasq = start_dnsmasq(workdir, stopping, dnsmasq_tftp)
            emit(LabNote(f"dnsmasq (pid {dnsmasq.pid}): DHCP only on {TAP_DEVICE}, {DHCP_RANGE}"))
            if config.tpm:
                tpm = stack.enter_context(SoftwareTpm())
                emit(LabNote(f"swtpm (pid {tpm.process.pid if tpm.process else '?'}): TPM 2.0"))
            spec = MachineSpec(
                tpm_socket=tpm.socket if tpm is not None else None,
                firmware=config.firmware,
                vars_path=config.vars_path,
                qmp_path=workdir / "qmp.sock",
                memory_mb=config.memory_mb,
                secure_boot=config.secure_boot,
                tap_device=TAP_DEVICE,
            )
            qemu = QemuProcess(spec, emit)
            qemu.start()
            assert qemu.process is not None
            qemu.process.wait()
        finally:
            stopping.set()
            if qemu is not None:
                qemu.stop()
            if dnsmasq is not None:
                dnsmasq.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    dnsmasq.wait(timeout=2)
                dnsmasq.kill()
    return 0


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
