"""`workbench serve` as an unprivileged user: files it may not read are "access denied", and a
TFTP listener that cannot start a thread (RLIMIT_NPROC, a real limit) answers, logs and goes on.

The server runs as a uid of its own (no other process shares its thread count), on loopback.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, require, require_tool

UID = 64123  # a uid nothing else runs as
# The RLIMIT_NPROC test's own uid: the limit counts every task of the uid, so no other server
# (another test on another worker) may run as it at the same time.
NPROC_UID = 64124


@pytest.fixture
def world_root() -> Iterator[Path]:
    """A served tree the unprivileged server can reach (pytest's tmp_path is root's only)."""
    top = Path(tempfile.mkdtemp(prefix="wb-serve-"))
    try:
        top.chmod(0o755)
        root = top / "root"
        root.mkdir(mode=0o755)
        (root / "small").write_bytes(b"hello\n")
        (root / "big").write_bytes(os.urandom(1 << 20))
        (root / "secret").write_bytes(b"not for you\n")
        for path in root.iterdir():
            path.chmod(0o644)
        (root / "secret").chmod(0o600)  # root's own: the server's user may not read it
        yield root
    finally:
        shutil.rmtree(top)


class Serve:
    """`workbench serve` as UID, its log lines collected; `port` from its first line."""

    def __init__(self, root: Path, *arguments: str, nproc: int | None = None) -> None:
        require(os.geteuid() == 0, "root, to run the server as another user")
        uid = UID if nproc is None else NPROC_UID
        command = [require_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                   sys.executable, "-m", "workbench.cli", "serve", str(root), "--port", "0",
                   *arguments]  # fmt: skip
        if nproc is not None:
            command = [require_tool("prlimit"), f"--nproc={nproc}", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert "read-only on" in first, first + self.stderr()
        self.port = int(first.split(" (Ctrl-C")[0].rstrip("/").rsplit(":", 1)[1])
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, deadline: float = 5.0) -> str:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line with {text!r}: {self.lines} {self.stderr()}")

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        finally:
            self.process.kill()
        self._reader.join(timeout=5)
        return self.stderr()


def rrq(name: str) -> bytes:
    return b"\x00\x01" + name.encode() + b"\x00octet\x00"


def udp_client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    return sock


def test_tftp_unreadable_file_is_access_denied(world_root: Path) -> None:
    served = Serve(world_root)
    try:
        with udp_client() as sock:
            sock.sendto(rrq("secret"), ("127.0.0.1", served.port))
            answer, _ = sock.recvfrom(1000)
        assert answer[:4] == b"\x00\x05\x00\x02"  # ERROR 2, access violation
        assert "access denied" in served.wait_line("secret")
    finally:
        errors = served.stop()
    assert "Traceback" not in errors


def test_http_unreadable_file_is_403(world_root: Path) -> None:
    served = Serve(world_root, "--http")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
        connection.request("GET", "/secret")
        response = connection.getresponse()
        assert response.status == 403
        response.read()
        connection.close()
        assert "access denied (403)" in served.wait_line("secret")
    finally:
        errors = served.stop()
    assert "Traceback" not in errors
