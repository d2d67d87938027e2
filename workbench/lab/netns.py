"""The private network lab: a network namespace with a tap device, DHCP, TFTP and QEMU.

The parent runs `python -m workbench.lab.netns_child CONFIG` under `unshare --net` (with
`--user --map-root-user` when not root). Inside, the child brings up a tap device, dnsmasq as
DHCP only, our TFTP server and QEMU, and streams events back as JSON lines on stdout. The
namespace, its tap device and every server in it end with the child's process group, so no DHCP
server ever answers on a host interface and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from workbench.errors import MissingTool
from workbench.lab.events import Event, LabFailed, LabNote, MachineExit, event_from_dict
from workbench.lab.firmware import Firmware
from workbench.lab.request import BootRequest, NetLabConfig
from workbench.lab.stderr_tail import StderrTail

SERVER_ADDRESS = "10.0.2.2"
SERVER_ADDRESS6 = "fd00::2"
TAP_DEVICE = "tap0"
TOOLS = ("unshare", "ip", "dnsmasq")
STOP_GRACE = 3.0


def find_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise MissingTool(f"{name} not found (the network lab needs iproute2, dnsmasq, unshare)")
    return path


# "user" forces the unprivileged form (a user + net namespace) even for root, e.g. to test it.
NAMESPACE_ENV = "WORKBENCH_NETNS"


def unshare_command() -> list[str]:
    """Root gets a plain network namespace; others map themselves to root in a user one."""
    unshare = find_tool("unshare")
    if os.geteuid() == 0 and os.environ.get(NAMESPACE_ENV) != "user":
        return [unshare, "--net", "--"]
    return [unshare, "--user", "--map-root-user", "--net", "--"]


class NetLab:
    def __init__(self, request: BootRequest, firmware: Firmware, workdir: Path) -> None:
        self.request = request
        self.firmware = firmware
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stderr = StderrTail()
        self._stopping = False

    def config(self) -> NetLabConfig:
        vars_path = self.workdir / "vars.fd"
        shutil.copyfile(self.request.vars_template or self.firmware.vars_template, vars_path)
        return NetLabConfig(
            root=Path(self.request.root).resolve(),
            workdir=self.workdir,
            firmware=self.firmware,
            vars_path=vars_path,
            memory_mb=self.request.memory_mb,
            secure_boot=self.request.secure_boot,
            faults=self.request.faults,
            tftp_server=self.request.tftp_server,
            tftp_max_window=self.request.tftp_max_window,
            tpm=self.request.tpm,
            protocol="http" if self.request.mode == "http" else "tftp",
            ipv6=self.request.ipv6,
            gdb_socket=self.request.gdb_socket,
            guests=self.request.guests,
        )

    def start(self, publish: Callable[[Event], None]) -> None:
        for tool in TOOLS:
            find_tool(tool)
        config_path = self.workdir / "lab.json"
        config_path.write_text(self.config().to_json())
        command = [*unshare_command(), sys.executable, "-m", "workbench.lab.netns_child",
                   str(config_path)]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            # Several guests: the run ends one whose outcome it knows ("stop N", see stop_guest).
            stdin=subprocess.PIPE if self.request.guests > 1 else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the whole lab is one process group
        )
        publish(LabNote(f"network lab started (pid {self.process.pid})", guest=self._lab_guest))
        self._reader = threading.Thread(target=self._read, args=(publish,), daemon=True)
        self._reader.start()
        stderr = self.process.stderr
        assert stderr is not None
        threading.Thread(target=self._stderr.drain, args=(stderr,), daemon=True).start()

    def _read(self, publish: Callable[[Event], None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        machine_ended = False
        for line in self.process.stdout:
            try:
                event = event_from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            machine_ended = machine_ended or isinstance(event, MachineExit | LabFailed)
            publish(event)
        code = self.process.wait()
        if not machine_ended and not self._stopping:
            last = self._stderr.last(f"exit code {code}")
            reason = f"network lab ended unexpectedly: {last}"
            publish(LabFailed(reason, guest=self._lab_guest))

    @property
    def _lab_guest(self) -> int | None:
        """The guest of the lab's own events: the only one, or none of several."""
        return 0 if self.request.guests == 1 else None

    def stop_guest(self, index: int) -> None:
        """End guest `index` (its outcome is known); the others go on."""
        process = self.process
        if process is None or process.stdin is None or process.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):
            process.stdin.write(f"stop {index}\n".encode())
            process.stdin.flush()

    def stop(self) -> None:
        """End the lab's process group: TERM, then KILL; safe to call twice."""
        self._stopping = True
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE)
        # Whatever is left in the group (QEMU, dnsmasq) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
