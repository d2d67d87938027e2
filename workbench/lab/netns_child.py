"""Runs INSIDE the private network namespace made by workbench.lab.netns (never outside it).

Brings up lo and a tap device, starts dnsmasq (DHCP only), the TFTP server and QEMU, and writes
events as JSON lines to stdout until QEMU ends.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.lab.events import Event, LabFailed, LabNote
from workbench.lab.firmware import Firmware
from workbench.lab.netns import SERVER_ADDRESS, TAP_DEVICE, find_tool
from workbench.lab.qemu import MachineSpec, QemuProcess
from workbench.lab.tftp import FaultPlan, TftpServer

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


def start_dnsmasq(workdir: Path, stopping: threading.Event) -> subprocess.Popen[str]:
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


def run(config: dict) -> int:
    if not in_private_namespace():
        raise WorkbenchError("refusing to start DHCP: not inside a private network namespace")
    workdir = Path(config["workdir"])
    firmware_fields = config["firmware"]
    firmware = Firmware(
        code=Path(firmware_fields["code"]),
        vars_template=Path(firmware_fields["vars_template"]),
        requires_smm=bool(firmware_fields["requires_smm"]),
        description=Path(firmware_fields["description"]),
    )
    faults = FaultPlan(**config["faults"]) if config.get("faults") else None
    bring_up_network()
    emit(LabNote(f"private network: {TAP_DEVICE} {SERVER_ADDRESS}/24"))
    dnsmasq: subprocess.Popen[str] | None = None
    qemu: QemuProcess | None = None
    stopping = threading.Event()
    with TftpServer(Path(config["root"]), bind=SERVER_ADDRESS, port=69, faults=faults,
                    on_event=emit):  # fmt: skip
        emit(LabNote(f"tftp: serving {config['root']} on {SERVER_ADDRESS}:69"))
        try:
            dnsmasq = start_dnsmasq(workdir, stopping)
            emit(LabNote(f"dnsmasq (pid {dnsmasq.pid}): DHCP only on {TAP_DEVICE}, {DHCP_RANGE}"))
            spec = MachineSpec(
                firmware=firmware,
                vars_path=Path(config["vars_path"]),
                qmp_path=workdir / "qmp.sock",
                memory_mb=int(config["memory_mb"]),
                secure_boot=bool(config["secure_boot"]),
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
        return run(json.loads(Path(argv[0]).read_text()))
    except (WorkbenchError, OSError) as error:
        emit(LabFailed(str(error)))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
