"""QEMU + OVMF/AAVMF: the command line, the process, its serial console and its QMP events.

x86_64 guests run on q35 (16550 UART on -serial), aarch64 guests on virt with a PL011 there;
both boot from UEFI in pflash with virtio-blk and virtio-net on PCI."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.arch import X86_64, Arch
from workbench.errors import MissingTool
from workbench.lab.console import clean_serial_text
from workbench.lab.events import Event, LabNote, MachineExit, Reset, SerialLine
from workbench.lab.firmware import Firmware
from workbench.lab.stderr_tail import StderrTail
from workbench.lab.tpm import qemu_tpm_args

QEMU = X86_64.qemu_system
# TCG runs `-cpu max` with QARMA pointer authentication at a crawl (minutes to the kernel);
# the IMPLEMENTATION DEFINED algorithm is cheap to emulate and the guest cannot tell.
AARCH64_CPU = "max,pauth-impdef=on"
# sun_path is 108 bytes including the terminating NUL.
UNIX_PATH_MAX = 100
Publish = Callable[[Event], None]


def qemu_binary(arch: Arch = X86_64) -> str:
    path = shutil.which(arch.qemu_system)
    if path is None:
        raise MissingTool(
            f"{arch.qemu_system} not found (install {arch.qemu_package} and "
            f"{arch.firmware_package}): {arch.label} machines need it"
        )
    return path


_kvm_verdicts: dict[Path, bool] = {}
KVM_PROBE_SECONDS = 1.5


def kvm_works(firmware_code: Path) -> bool:
    """Run OVMF under KVM briefly: some hosts expose /dev/kvm yet fail with "KVM internal
    error" on the first instructions. Answered once per process."""
    if firmware_code in _kvm_verdicts:
        return _kvm_verdicts[firmware_code]
    verdict = False
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        command = [
            qemu_binary(), "-accel", "kvm", "-machine", "q35", "-m", "64", "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "none", "-monitor", "none",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={firmware_code}",
        ]  # fmt: skip
        probe = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            assert probe.stderr is not None
            errors = b""
            deadline = time.monotonic() + KVM_PROBE_SECONDS
            with selectors.DefaultSelector() as selector:
                selector.register(probe.stderr, selectors.EVENT_READ)
                while (left := deadline - time.monotonic()) > 0 and b"internal error" not in errors:
                    if not selector.select(left):
                        continue
                    chunk = os.read(probe.stderr.fileno(), 4096)
                    if not chunk:
                        break
                    errors += chunk
            verdict = probe.poll() is None and b"internal error" not in errors
        finally:
            probe.kill()
            probe.wait()
            probe.stderr.close()  # type: ignore[union-attr]
    _kvm_verdicts[firmware_code] = verdict
    return verdict


def accelerator(firmware_code: Path, arch: Arch = X86_64) -> str:
    """$WORKBENCH_ACCEL if set; else KVM when a quick probe shows it works, else TCG. A guest
    of another architecture than the host's is always TCG (nothing to probe)."""
    if platform.machine() != arch.name:
        return "tcg"
    forced = os.environ.get("WORKBENCH_ACCEL")
    if forced:
        return forced
    return "kvm" if kvm_works(firmware_code) else "tcg"


@dataclass
class DgramLink:
    """The NIC's frames over unix datagram sockets instead of a tap device: QEMU binds `local`
    and sends to `remote` (the lab's link relay, which impairs the link)."""

    local: Path
    remote: Path


@dataclass
class MachineSpec:
    """What to run: firmware, a private VARS copy, and either a disk image or a tap device."""

    firmware: Firmware
    vars_path: Path
    qmp_path: Path
    memory_mb: int = 768
    secure_boot: bool = False
    disk_image: Path | None = None
    tap_device: str | None = None
    tpm_socket: Path | None = None  # swtpm's control socket: the guest gets a TPM 2.0
    dgram_link: DgramLink | None = None  # set: the NIC goes through it, not the tap device
    mac: str | None = None  # the NIC's MAC; None: QEMU's own (52:54:00:12:34:56)
    extra_args: list[str] = field(default_factory=list)
    arch: Arch = X86_64  # the machine: q35 (x86_64) or virt (aarch64)


def _machine_args(spec: MachineSpec) -> list[str]:
    if spec.arch is not X86_64:
        # virt: no SMM; Secure Boot is the variable store's PK alone.
        return ["-machine", "virt", "-cpu", AARCH64_CPU]
    machine = "q35"
    if spec.firmware.requires_smm or spec.secure_boot:
        machine += ",smm=on"
    return ["-machine", machine]


def build_command(spec: MachineSpec) -> list[str]:
    command = [
        qemu_binary(spec.arch),
        *_machine_args(spec),
        "-accel", accelerator(spec.firmware.code, spec.arch),
        "-m", str(spec.memory_mb),
        "-no-user-config",
        "-nodefaults",
        "-display", "none",
        "-serial", "stdio",
        "-qmp", f"unix:{spec.qmp_path},server=on,wait=off",
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={spec.firmware.code}",
        "-drive", f"if=pflash,format=raw,unit=1,file={spec.vars_path}",
    ]  # fmt: skip
    if spec.firmware.requires_smm:
        command += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    if spec.tpm_socket is not None:
        command += qemu_tpm_args(spec.tpm_socket, spec.arch)
    if spec.disk_image is not None:
        command += [
            "-drive", f"if=none,id=esp,format=raw,file={spec.disk_image}",
            "-device", "virtio-blk-pci,drive=esp,bootindex=1",
        ]  # fmt: skip
    if spec.dgram_link is not None:
        link = spec.dgram_link
        command += [
            "-netdev", f"dgram,id=n0,local.type=unix,local.path={link.local},"
                       f"remote.type=unix,remote.path={link.remote}",
            "-device", "virtio-net-pci,netdev=n0,bootindex=1,romfile=",
        ]  # fmt: skip
    elif spec.tap_device is not None:
        # Guests on one bridge need their own MACs: QEMU gives every NIC the same one otherwise.
        mac = f",mac={spec.mac}" if spec.mac is not None else ""
        command += [
            "-netdev", f"tap,id=n0,ifname={spec.tap_device},script=no,downscript=no",
            # romfile= makes OVMF use its own virtio-net driver rather than iPXE's option ROM.
            "-device", f"virtio-net-pci,netdev=n0,bootindex=1,romfile={mac}",
        ]  # fmt: skip
    else:
        command += ["-nic", "none"]
    return command + spec.extra_args


class _Qmp:
    """A minimal QMP client: capabilities, events, quit."""

    def __init__(self, path: Path, deadline: float, keep_trying: Callable[[], bool]) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline or not keep_trying():
                    self.sock.close()
                    raise
                time.sleep(0.02)
        self.reader = self.sock.makefile("rb")
        self.reader.readline()  # greeting
        self.send({"execute": "qmp_capabilities"})

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def messages(self):
        for line in self.reader:
            with contextlib.suppress(ValueError):
                yield json.loads(line)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class QemuProcess:
    """One QEMU run. Serial lines, resets and the exit come to `publish` from reader threads."""

    def __init__(self, spec: MachineSpec, publish: Publish) -> None:
        self.spec = spec
        self.publish = publish
        self._socket_dir: str | None = None
        if len(str(spec.qmp_path)) > UNIX_PATH_MAX:
            # Deep scratch directories overflow sockaddr_un; fall back to a short private one.
            self._socket_dir = tempfile.mkdtemp(prefix="wbq-", dir="/tmp")
            spec.qmp_path = Path(self._socket_dir, "qmp.sock")
        self.process: subprocess.Popen[bytes] | None = None
        self._qmp: _Qmp | None = None
        self._threads: list[threading.Thread] = []
        self._stderr = StderrTail()
        self._guest_shutdown = False
        self._stopping = False
        self._lock = threading.Lock()

    def start(self) -> None:
        command = build_command(self.spec)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # our own process group: killed as one on teardown
        )
        accel = accelerator(self.spec.firmware.code, self.spec.arch)
        self.publish(LabNote(f"qemu started (pid {self.process.pid}), accel {accel}"))
        serial = self._spawn(self._read_serial)
        stderr_stream = self.process.stderr
        assert stderr_stream is not None
        stderr = self._spawn(lambda: self._stderr.drain(stderr_stream))
        self._spawn(self._watch_qmp)
        self._spawn(lambda: self._wait_exit([serial, stderr]))

    def _spawn(self, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _read_serial(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        pending = b""
        stream = self.process.stdout
        while chunk := os.read(stream.fileno(), 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._publish_serial(line)
        if pending:
            self._publish_serial(pending)

    def _publish_serial(self, raw: bytes) -> None:
        text = clean_serial_text(raw.decode("utf-8", errors="replace"))
        if text:
            self.publish(SerialLine(text))

    def _watch_qmp(self) -> None:
        try:
            qmp = _Qmp(self.spec.qmp_path, time.monotonic() + 10, self._worth_connecting)
        except OSError:
            return  # QEMU failed to start; the exit watcher reports it
        with self._lock:
            if self._stopping:
                qmp.close()
                return
            self._qmp = qmp
        try:
            for message in qmp.messages():
                event = message.get("event")
                data = message.get("data", {})
                if event == "RESET":
                    by_guest = bool(data.get("guest"))
                    self.publish(Reset(by_guest=by_guest, reason=data.get("reason", "")))
                elif event == "SHUTDOWN" and data.get("guest"):
                    self._guest_shutdown = True
        except OSError:
            pass

    def _worth_connecting(self) -> bool:
        return not self._stopping and self.process is not None and self.process.poll() is None

    def _wait_exit(self, readers: list[threading.Thread]) -> None:
        assert self.process is not None
        code = self.process.wait()
        for reader in readers:
            reader.join()
        self.publish(
            MachineExit(
                code=code,
                guest_shutdown=self._guest_shutdown,
                stderr_tail=self._stderr.text(),
            )
        )

    def stop(self, grace: float = 2.0) -> None:
        """Quit QEMU (QMP quit, then SIGKILL to its process group); safe to call twice."""
        with self._lock:
            self._stopping = True
            qmp = self._qmp
        process = self.process
        if process is not None and process.poll() is None:
            if qmp is not None:
                with contextlib.suppress(OSError):
                    qmp.send({"execute": "quit"})
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if qmp is not None:
            qmp.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        for stream in (process.stdout, process.stderr) if process else ():
            if stream is not None:
                stream.close()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
