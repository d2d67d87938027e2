"""A read-only TFTP server confined to its root, with transfer events and fault injection.

The listener takes requests on its port and gives each read its own thread and socket (its
own transfer ID); `workbench.lab.tftp_session` runs the transfer (options, RFC 7440 windows).
Packets are parsed and built with tftpy's packet classes. Writes are always refused.

Names are opened as workbench.lab.confine says: open first, then check what was opened.

Hardened for networks that are not ours: requests are read by workbench.lab.tftp_request
(a malformed one is answered with ERROR 4 or 8, not silence); at most `max_sessions` transfers
run at once (as atftpd's --maxthread), and a request beyond that is answered with ERROR 0
"server busy" (atftpd stays silent; an answer tells the client, and the log, why); a
session that cannot start (no thread, no socket) is answered and logged, and the listener
goes on whatever one request does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.lab import confine
from workbench.lab.events import Transfer, TransferState
from workbench.lab.faults import FaultPlan, InjectedFailures
from workbench.lab.listen import address_family, cannot_serve
from workbench.lab.tftp_request import Malformed, Request, parse_request
from workbench.lab.tftp_session import (
    ERROR_ACCESS_VIOLATION,
    ERROR_FILE_NOT_FOUND,
    ERROR_ILLEGAL_OPERATION,
    ERROR_NOT_DEFINED,
    ERROR_OPTION_REFUSED,
    Limits,
    Session,
    error_packet,
    negotiate,
)

OnTransfer = Callable[[Transfer], None]
PROGRESS_INTERVAL = 0.5
# How often the listener looks at its stop flag.
POLL_SECONDS = 0.2
DEFAULT_MAX_WINDOW = 64
DEFAULT_MAX_SESSIONS = 64
# How long stop() waits for all transfers together (each looks at the stop flag every 0.25 s).
STOP_GRACE = 1.0


class Refused(Exception):
    """A request the server answers with an ERROR packet; `state` is the event's state."""

    def __init__(self, code: int, state: TransferState, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.state = state
        self.reason = reason


class TftpServer:
    """Serve ROOT read-only over TFTP. `port` is set once start() returns."""

    def __init__(self, root: Path, bind: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None, on_event: OnTransfer | None = None,
                 max_window: int = DEFAULT_MAX_WINDOW,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:  # fmt: skip
        self.root = Path(root)
        if not self.root.is_dir():
            raise WorkbenchError(f"{self.root}: no such directory to serve")
        if max_window < 1:
            raise WorkbenchError(f"the TFTP window cap must be 1 or more, not {max_window}")
        if max_sessions < 1:
            raise WorkbenchError(f"the TFTP session cap must be 1 or more, not {max_sessions}")
        self.real_root = os.path.realpath(self.root)
        self.bind = bind
        self.port = port
        self.faults = faults or FaultPlan()
        self.on_event = on_event
        self.limits = Limits(max_window=max_window)
        self.max_sessions = max_sessions
        self._failures = InjectedFailures(self.faults)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._sessions: set[threading.Thread] = set()

    # -- policy ------------------------------------------------------------------------------

    def open_inside_root(self, name: str) -> int:
        """A read-only descriptor of a regular file inside the root; Refused otherwise."""
        try:
            return confine.open_inside_root(self.real_root, name)
        except confine.Refused as refusal:
            code = ERROR_FILE_NOT_FOUND if refusal.not_found else ERROR_ACCESS_VIOLATION
            raise Refused(code, refusal.state, refusal.reason) from None

    # -- events ------------------------------------------------------------------------------

    def report(self, event: Transfer) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- requests ----------------------------------------------------------------------------

    def _serve_forever(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self._socket], [], [], POLL_SECONDS)
                if not ready:
                    continue
                buffer, client = self._socket.recvfrom(65536)
            except OSError:
                if not self._stopping.is_set():
                    time.sleep(POLL_SECONDS)  # e.g. out of memory: try again, never spin
                continue
            if self._stopping.is_set():
                break
            try:
                self._take(buffer, client)
            except Exception as error:  # one request must not take the listener down
                host = client[0] if client else "?"
                self.report(Transfer("?", host, "failed", error=f"server error: {error}"))

    def _take(self, buffer: bytes, client: tuple[str, int]) -> None:
        """Answer one datagram sent to the listening port: start a session or refuse."""
        host = client[0]
        try:
            request = parse_request(buffer)
        except Malformed as malformed:
            if malformed.code is not None:
                self._answer(error_packet(malformed.code, malformed.reason), client)
                self.report(Transfer(malformed.filename, host, "refused", error=malformed.reason))
            return
        with self._lock:
            busy = len(self._sessions) >= self.max_sessions
            if not busy:
                thread = threading.Thread(
                    target=self._transfer, args=(request, client), daemon=True, name="tftp-xfer"
                )
                self._sessions.add(thread)
        if busy:
            reason = f"server busy: {self.max_sessions} sessions in flight"
            self._answer(error_packet(ERROR_NOT_DEFINED, reason), client)
            self.report(Transfer(request.filename, host, "refused", error=reason))
            return
        try:
            thread.start()
        except Exception as error:  # RuntimeError: can't start new thread (RLIMIT_NPROC...)
            with self._lock:
                self._sessions.discard(thread)
            reason = f"cannot start a session: {error}"
            self._answer(error_packet(ERROR_NOT_DEFINED, "server out of resources"), client)
            self.report(Transfer(request.filename, host, "failed", error=reason))

    def _answer(self, packet: bytes, client: tuple[str, int]) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.sendto(packet, client)

    def _transfer(self, request: Request, client: tuple[str, int]) -> None:
        host = client[0]
        try:
            with socket.socket(address_family(self.bind), socket.SOCK_DGRAM) as sock:
                sock.bind((self.bind, 0))
                try:
                    self._read(sock, request, client)
                except Refused as refusal:
                    sock.sendto(error_packet(refusal.code), client)
                    event = Transfer(request.filename, host, refusal.state, error=refusal.reason)
                    self.report(event)
        except Exception as error:  # a transfer's bug must not take the server down
            reason = f"server error: {error}"
            self._answer(error_packet(ERROR_NOT_DEFINED, "server error"), client)
            self.report(Transfer(request.filename, host, "failed", error=reason))
        finally:
            with self._lock:
                self._sessions.discard(threading.current_thread())

    def _read(self, sock: socket.socket, request: Request, client: tuple[str, int]) -> None:
        name = request.filename
        if request.write:
            raise Refused(ERROR_ACCESS_VIOLATION, "refused", "writes are refused (read-only)")
        if request.mode != "octet":
            raise Refused(ERROR_ILLEGAL_OPERATION, "refused", f"mode {request.mode!r} (octet only)")
        asked = set(request.options)
        refusing = self.faults.refuse_options.get(name, "").lower().split(",")
        refused = sorted(asked & {option.strip() for option in refusing if option.strip()})
        if refused:
            reason = f"option {refused[0]} refused (fault injected)"
            raise Refused(ERROR_OPTION_REFUSED, "refused", reason)
        fd = self.open_inside_root(name)
        try:
            if self._failures.take(name):
                raise Refused(ERROR_FILE_NOT_FOUND, "failed", "failed on purpose (fault injected)")
            self._send(sock, request, client, fd)
        finally:
            os.close(fd)

    def _send(self, sock: socket.socket, request: Request, client: tuple[str, int],
              fd: int) -> None:  # fmt: skip
        name, host = request.filename, client[0]
        size = os.fstat(fd).st_size
        agreed = negotiate(request.options, size, self.limits)

        def event(state: str, sent: int = 0, **more: object) -> Transfer:
            return Transfer(name, host, state, sent, size, blksize=agreed.blksize,  # type: ignore[arg-type]
                                window=agreed.window, **more)  # type: ignore[arg-type]  # fmt: skip

        self.report(event("started"))
        started = time.monotonic()
        last_progress = started

        def progress(sent: int, total: int) -> None:
            nonlocal last_progress
            now = time.monotonic()
            if now - last_progress >= PROGRESS_INTERVAL:
                last_progress = now
                self.report(event("progress", sent, seconds=round(now - started, 3)))

        faults = self.faults.for_name(name)
        session = Session(sock, client, fd, size, agreed, self.limits, faults, progress,
                          self._stopping.is_set)  # fmt: skip
        result = session.run()
        seconds = round(time.monotonic() - started, 3)
        self.report(event(result.state, result.sent, seconds=seconds, error=result.error,
                          retransmits=result.retransmits))  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TftpServer:
        # Transfers are reported as events; tftpy's own log (packet parsing) would be noise.
        logging.getLogger("tftpy").setLevel(logging.CRITICAL)
        sock = socket.socket(address_family(self.bind), socket.SOCK_DGRAM)
        try:
            sock.bind((self.bind, self.port))
        except OSError as error:
            sock.close()
            raise cannot_serve("TFTP", self.bind, self.port, error) from None
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve_forever, daemon=True, name="tftp")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now: transfers in flight end as failed, the port is free when this returns."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout=POLL_SECONDS * 5)
        with self._lock:
            sessions = list(self._sessions)
        # One grace period for all of them together, not one each.
        deadline = time.monotonic() + STOP_GRACE
        for thread in sessions:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._socket = None
        self._thread = None

    def __enter__(self) -> TftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
