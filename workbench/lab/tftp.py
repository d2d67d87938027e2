"""A read-only TFTP server on tftpy, confined to its root, with transfer events and faults.

tftpy creates one context per client request inside `TftpServer.listen()`; the server below
registers those contexts in a dict of its own, which gives it two hooks: when a context is
registered its start state is swapped for ours (name checks, refusing writes, faults, our own
file object), and when it is removed the transfer's result is reported.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tftpy import TftpServer as _TftpyServer
from tftpy.TftpPacketTypes import TftpPacketERR, TftpPacketRRQ, TftpPacketWRQ
from tftpy.TftpShared import TftpErrors, TftpException
from tftpy.TftpStates import TftpStateExpectACK, TftpStateServerRecvRRQ, TftpStateServerStart

from workbench.errors import WorkbenchError
from workbench.lab.events import TftpTransfer

OnTransfer = Callable[[TftpTransfer], None]
# Session (retransmit) timeout; tftpy also uses it as its select() timeout.
SESSION_TIMEOUT = 2
PROGRESS_INTERVAL = 0.5
# TFTP ERROR 8: the client ended the transfer after the option negotiation (EDK2's size probe).
ERROR_OPTION_ABORT = 8


@dataclass
class FaultPlan:
    """Faults to inject, by file name as the client asks for it (e.g. `EFI/Linux/vmlinuz`)."""

    # Fail the first N read requests for a name with a TFTP error.
    fail_first: dict[str, int] = field(default_factory=dict)
    # Stop sending a file after B bytes (the client must time out).
    stop_after: dict[str, int] = field(default_factory=dict)
    # Flip the byte at offset O of the served data.
    corrupt: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            "fail_first": self.fail_first,
            "stop_after": self.stop_after,
            "corrupt": self.corrupt,
        }


def refusal_reason(name: str) -> str | None:
    """Why a requested name is refused before looking at the disk, or None."""
    if not name or "\0" in name:
        return "empty or invalid name"
    if name.startswith(("/", "\\")):
        return "absolute name"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in name"
    return None


class _ServedFile:
    """The file as sent: reports progress, and applies the stop-after and corrupt faults."""

    def __init__(self, path: Path, stop_after: int | None, corrupt_at: int | None,
                 on_progress: Callable[[int, int], None]) -> None:  # fmt: skip
        self.file = open(path, "rb")  # noqa: SIM115 (tftpy closes it through close())
        self.total = os.fstat(self.file.fileno()).st_size
        self.stop_after = stop_after
        self.corrupt_at = corrupt_at
        self.on_progress = on_progress
        self.sent = 0
        self.started = time.monotonic()
        self._last_progress = self.started
        self.stopped = False

    def read(self, size: int) -> bytes:
        position = self.file.tell()
        if self.stop_after is not None and position + size > self.stop_after:
            self.stopped = True
            # Raising inside tftpy's send path drops the session without a packet: the
            # client sees the server fall silent.
            raise TftpException(f"stopped after {position} bytes (fault injected)")
        data = self.file.read(size)
        if self.corrupt_at is not None and position <= self.corrupt_at < position + len(data):
            index = self.corrupt_at - position
            data = data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]
        self.sent = position + len(data)
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.on_progress(self.sent, self.total)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()

    @property
    def closed(self) -> bool:
        return self.file.closed


class _Start(TftpStateServerStart):
    """Our first state for every request: refuse writes and bad names, apply fail-first."""

    def handle(self, pkt: Any, raddress: str, rport: int) -> Any:
        server: TftpServer = self.context.workbench
        if isinstance(pkt, TftpPacketWRQ):
            return self._refuse(server, pkt.filename, rport, "writes are refused (read-only)")
        if not isinstance(pkt, TftpPacketRRQ):
            return super().handle(pkt, raddress, rport)
        try:
            return self._read(server, pkt, raddress, rport)
        except TftpException:
            raise
        except Exception as error:  # tftpy's listener survives only TftpException
            self.context.workbench_failure = f"server error: {error}"
            raise TftpException(str(error)) from error

    def _read(self, server: TftpServer, pkt: Any, raddress: str, rport: int) -> Any:
        name = pkt.filename
        self.context.file_to_transfer = name
        reason = refusal_reason(name) or server.outside_root(name)
        if reason is not None:
            return self._refuse(server, name, rport, reason)
        if server.take_injected_failure(name):
            self.context.tidport = rport
            self.context.workbench_failure = "failed on purpose (fault injected)"
            self.sendError(TftpErrors.FileNotFound)
            raise TftpException(f"{name}: failed on purpose (fault injected)")
        return _ReadRequest(self.context).handle(pkt, raddress, rport)

    def _refuse(self, server: TftpServer, name: str, rport: int, reason: str) -> Any:
        self.context.tidport = rport
        self.context.workbench_reported = True
        server.report(TftpTransfer(name, self.context.host, "refused", error=reason))
        self.sendError(TftpErrors.AccessViolation)
        raise TftpException(f"{name}: {reason}")


class _ReadRequest(TftpStateServerRecvRRQ):
    """tftpy's read request handling, opening the file through the server."""

    def handle(self, pkt: Any, raddress: str, rport: int) -> Any:
        context = self.context
        server: TftpServer = context.workbench
        send_oack = self.serverInitial(pkt, raddress, rport)
        try:
            context.fileobj = server.open_served(pkt.filename, context.host)
        except OSError:
            context.workbench_failure = "not found"
            self.sendError(TftpErrors.FileNotFound)
            raise TftpException(f"{pkt.filename}: not found") from None
        if send_oack and "tsize" in context.options:
            context.options["tsize"] = str(context.fileobj.total)
        if send_oack:
            self.sendOACK()
        else:
            context.next_block = 1
            context.pending_complete = self.sendDAT()
        return _ExpectAck(context)


class _ExpectAck(TftpStateExpectACK):
    """Remembers the client's ERROR code, so a size probe is told apart from a failure."""

    def handle(self, pkt: Any, raddress: str, rport: int) -> Any:
        if isinstance(pkt, TftpPacketERR):
            self.context.workbench_peer_error = (pkt.errorcode, pkt.errmsg)
        return super().handle(pkt, raddress, rport)


class _Sessions(dict):
    """tftpy's session table; registration and removal are our hooks (see module docstring)."""

    def __init__(self, server: TftpServer) -> None:
        super().__init__()
        self.server = server

    def __setitem__(self, key: str, context: Any) -> None:
        context.workbench = self.server
        context.state = _Start(context)
        context.flock = False  # our file objects are private and read-only
        super().__setitem__(key, context)

    def __delitem__(self, key: str) -> None:
        context = self[key]
        super().__delitem__(key)
        self.server.report_end(context)


class TftpServer:
    """Serve ROOT read-only over TFTP. `port` is set once start() returns."""

    def __init__(self, root: Path, bind: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None,
                 on_event: OnTransfer | None = None) -> None:  # fmt: skip
        self.root = Path(root)
        if not self.root.is_dir():
            raise WorkbenchError(f"{self.root}: no such directory to serve")
        self.real_root = os.path.realpath(self.root)
        self.bind = bind
        self.port = port
        self.faults = faults or FaultPlan()
        self.on_event = on_event
        self._failures_left = dict(self.faults.fail_first)
        self._lock = threading.Lock()
        self._server: _TftpyServer | None = None
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    # -- policy ------------------------------------------------------------------------------

    def outside_root(self, name: str) -> str | None:
        real = os.path.realpath(os.path.join(self.real_root, name))
        if os.path.commonpath([real, self.real_root]) != self.real_root:
            return "leaves the served directory"
        return None

    def take_injected_failure(self, name: str) -> bool:
        with self._lock:
            left = self._failures_left.get(name, 0)
            if left > 0:
                self._failures_left[name] = left - 1
            return left > 0

    def open_served(self, name: str, client: str) -> _ServedFile:
        path = Path(self.real_root, name)
        if not path.is_file():
            raise FileNotFoundError(name)

        def progress(sent: int, total: int) -> None:
            self.report(TftpTransfer(name, client, "progress", bytes=sent, total=total))

        served = _ServedFile(
            path, self.faults.stop_after.get(name), self.faults.corrupt.get(name), progress
        )
        self.report(TftpTransfer(name, client, "started", total=served.total))
        return served

    # -- events ------------------------------------------------------------------------------

    def report(self, event: TftpTransfer) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def report_end(self, context: Any) -> None:
        if getattr(context, "workbench_reported", False):
            return
        try:
            self._report_end(context)
        except Exception as error:
            self.report(TftpTransfer("?", context.host, "failed", error=f"report: {error}"))

    def _report_end(self, context: Any) -> None:
        name = context.file_to_transfer or "?"
        served = context.fileobj if isinstance(context.fileobj, _ServedFile) else None
        sent = served.sent if served else 0
        total = served.total if served else None
        seconds = round(time.monotonic() - served.started, 3) if served else 0.0
        peer_error = getattr(context, "workbench_peer_error", None)
        if context.state is None:
            state, error = "done", None
        elif peer_error and peer_error[0] == ERROR_OPTION_ABORT and context.next_block == 0:
            state, error = "probe", None  # the client only wanted the size
        elif served is not None and served.stopped:
            state, error = "failed", f"stopped after {sent} bytes (fault injected)"
        elif peer_error:
            state, error = "failed", f"client sent error {peer_error[0]}: {peer_error[1]}"
        else:
            failure = getattr(context, "workbench_failure", None)
            state, error = "failed", failure or "the client stopped answering"
        self.report(TftpTransfer(name, context.host, state, sent, total, seconds, error))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TftpServer:
        # Transfers are reported as events; tftpy's own log would repeat them as noise.
        logging.getLogger("tftpy").setLevel(logging.CRITICAL)
        server = _TftpyServer(self.real_root, upload_open=lambda path, context: None)
        server.sessions = _Sessions(self)
        self._server = server
        self._thread = threading.Thread(target=self._listen, daemon=True, name="tftp")
        self._thread.start()
        while not server.is_running.wait(0.05):
            if not self._thread.is_alive():
                break
        if self._error is not None:
            reason = self._error.strerror or str(self._error)
            if self._error.errno == errno.EADDRINUSE:
                reason = "port already in use"
            raise WorkbenchError(f"cannot serve TFTP on {self.bind}:{self.port}: {reason}")
        self.port = server.listenport
        return self

    def _listen(self) -> None:
        assert self._server is not None
        try:
            self._server.listen(self.bind, self.port, timeout=SESSION_TIMEOUT)
        except OSError as error:
            self._error = error

    def stop(self) -> None:
        """Stop now: drop transfers in flight and wake tftpy's select() with one datagram."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown_immediately = True
        # In graceful mode tftpy discards datagrams on its main port, so the wake-up is inert.
        server.shutdown_gracefully = True
        if thread.is_alive():
            address = "127.0.0.1" if self.bind in ("", "0.0.0.0") else self.bind
            with contextlib.suppress(OSError), socket.socket(type=socket.SOCK_DGRAM) as waker:
                waker.sendto(b"\0", (address, self.port))
            thread.join(timeout=SESSION_TIMEOUT + 1)
        self._server = None

    def __enter__(self) -> TftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
