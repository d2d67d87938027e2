"""A software TPM 2.0 for the guest: swtpm on a private unix socket, QEMU's TPM device in front
(tpm-crb on x86_64 q35, tpm-tis-device on aarch64 virt, which has no CRB).

Started before QEMU (which connects to its control socket) and stopped after it; its state
lives in a directory of its own that goes with it. For netboots it runs inside the lab's
network namespace, like everything else of the lab.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from workbench.arch import X86_64, Arch
from workbench.errors import LabFailure, MissingTool

START_SECONDS = 5.0


def qemu_tpm_args(socket: Path, arch: Arch = X86_64) -> list[str]:
    return [
        "-chardev", f"socket,id=chrtpm,path={socket}",
        "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
        "-device", f"{arch.tpm_device},tpmdev=tpm0",
    ]  # fmt: skip


class SoftwareTpm:
    def __init__(self) -> None:
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        assert self.directory is not None
        return self.directory / "swtpm.sock"

    def start(self) -> SoftwareTpm:
        swtpm = shutil.which("swtpm")
        if swtpm is None:
            raise MissingTool("swtpm not found (install swtpm): --tpm needs a software TPM")
        # Short path under /tmp: unix socket paths are limited to 108 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="wbtpm-", dir="/tmp"))
        self.process = subprocess.Popen(
            [swtpm, "socket", "--tpm2", "--tpmstate", f"dir={self.directory}",
             "--ctrl", f"type=unixio,path={self.socket}", "--flags", "startup-clear"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                stderr = self.process.stderr
                error = stderr.read().decode(errors="replace") if stderr else ""
                self.stop()
                raise LabFailure(f"swtpm did not start: {error.strip() or 'no socket'}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> SoftwareTpm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self.stop()
