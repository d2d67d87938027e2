"""A read-only TFTP server confined to its root, with transfer events and fault injection.

One thread runs one event loop (epoll) for the listening socket and every transfer:
each read gets its own socket (its own transfer ID) and a small state machine,
`workbench.lab.tftp_session.Session` (options, RFC 7440 windows); the loop sleeps until a
socket is readable or the earliest transfer deadline (`workbench.lab.tftp_deadlines`), so a
boot storm costs no thread per client and an idle transfer costs nothing. DATA goes out
through one shared buffer (`workbench.lab.tftp_blocks`). Writes are always refused.

Names are opened as workbench.lab.confine says: open first, then check what was opened.

Hardened for networks that are not ours: requests are read by workbench.lab.tftp_request
(a malformed one is answered with ERROR 4 or 8, not silence); at most `max_sessions` transfers
run at once (as atftpd's --maxthread), and a request beyond that is answered with ERROR 0
"server busy" (atftpd stays silent; an answer tells the client, and the log, why); a
session that cannot start (no socket) is answered and logged, and the loop goes on whatever
one request or one transfer does.
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
from workbench.lab.listen import address_family, bound_udp
from workbench.lab.tftp_blocks import BlockSender
from workbench.lab.tftp_deadlines import Deadlines
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
DEFAULT_MAX_WINDOW = 64
DEFAULT_MAX_SESSIONS = 64
# How long stop() waits for the loop to end every transfer and go.
STOP_GRACE = 1.0
# Requests read from the listening socket per wake, so a flood cannot starve transfers.
REQUESTS_PER_WAKE = 64
REQUEST_BYTES = 65536
# Passes over the transfers' sockets when the loop stops (one datagram each per pass).
STOP_PASSES = 8


class Refused(Exception):
    """A request the server answers with an ERROR packet; `state` is the event's state."""

    def __init__(self, code: int, state: TransferState, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.state = state
        self.reason = reason


class _Transfer:
    """A session and what its events need: the file, its socket, the times."""

    def __init__(self, server: TftpServer, request: Request, client: tuple, sock: socket.socket,
                 fd: int, size: int) -> None:  # fmt: skip
        self.server = server
        self.name = request.filename
        self.host = client[0]
        self.sock = sock
        self.fd = fd
        self.size = size
        self.agreed = negotiate(request.options, size, server.limits)
        self.started = time.monotonic()
        self.last_progress = self.started
        self.session = Session(sock, client, fd, size, self.agreed, server.limits,
                               server.faults.for_name(self.name), self.progress,
                               server.sender)  # fmt: skip

    @property
    def deadline(self) -> float:
        return self.session.deadline

    def event(self, state: str, sent: int = 0, **more: object) -> Transfer:
        return Transfer(self.name, self.host, state, sent, self.size,  # type: ignore[arg-type]
                        blksize=self.agreed.blksize, window=self.agreed.window,
                        **more)  # type: ignore[arg-type]  # fmt: skip

    def progress(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_INTERVAL:
            self.last_progress = now
            self.server.report(self.event("progress", sent, seconds=round(now - self.started, 3)))

    def ended(self) -> Transfer:
        result = self.session.result
        assert result is not None
        seconds = round(time.monotonic() - self.started, 3)
        return self.event(result.state, result.sent, seconds=seconds, error=result.error,
                          retransmits=result.retransmits)  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


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
        self.sender = BlockSender()
        self.wakeups = 0  # times the loop woke (readable sockets or a deadline): for tests
        self._failures = InjectedFailures(self.faults)
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._epoll: select.epoll | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._transfers: dict[int, _Transfer] = {}  # by socket descriptor
        self._deadlines = Deadlines()

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
        """Tell the event handler; its failure (say, a closed pipe) is not the loop's."""
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logging.getLogger(__name__).exception("TFTP event handler failed")

    @property
    def sessions(self) -> int:
        """Transfers in flight."""
        return len(self._transfers)

    # -- the loop ----------------------------------------------------------------------------

    def _serve_forever(self) -> None:
        assert self._epoll is not None
        poll = self._epoll.poll
        deadlines = self._deadlines
        transfers = self._transfers
        monotonic = time.monotonic
        try:
            while not self._stopping.is_set():
                first = deadlines.first()
                timeout = -1.0 if first is None else max(0.0, first - monotonic())
                try:
                    ready = poll(timeout)
                except OSError:
                    time.sleep(0.05)  # e.g. out of memory: try again, never spin
                    continue
                self.wakeups += 1
                now = monotonic()
                for fd, _ in ready:
                    transfer = transfers.get(fd)
                    if transfer is None:
                        self._listen()  # the listening socket, or the stop signal
                    else:
                        self._step(transfer, transfer.session.on_readable, now)
                for due in deadlines.due(now):
                    assert isinstance(due, _Transfer)
                    self._step(due, due.session.on_deadline, now)
        finally:
            self._last_packets()
            for transfer in list(self._transfers.values()):
                transfer.session.stop()
                self._end(transfer)

    def _last_packets(self) -> None:
        """What reached the transfers' sockets before the stop: a final ACK already there ends
        its transfer as done, not as stopped."""
        if self._epoll is None:
            return
        for _ in range(STOP_PASSES):
            now = time.monotonic()
            ready = [self._transfers.get(fd) for fd, _ in self._epoll.poll(0)]
            steps = [transfer for transfer in ready if transfer is not None]
            if not steps:
                return
            for transfer in steps:
                self._step(transfer, transfer.session.on_readable, now)

    def _step(self, transfer: _Transfer, step: Callable[[float], None], now: float) -> None:
        """Run one step of a transfer; then end it, or queue its deadline."""
        try:
            step(now)
        except Exception as error:  # a transfer's bug must not take the server down
            self._answer(error_packet(ERROR_NOT_DEFINED, "server error"),
                         transfer.session.client, transfer.sock)  # fmt: skip
            transfer.session._fail(f"server error: {error}")
        if transfer.session.result is not None:
            self._end(transfer)
        else:
            self._deadlines.watch(transfer)

    def _end(self, transfer: _Transfer) -> None:
        self._transfers.pop(transfer.sock.fileno(), None)
        self._deadlines.forget(transfer)
        if self._epoll is not None:
            with contextlib.suppress(OSError):
                self._epoll.unregister(transfer.sock)
        transfer.close()
        self.report(transfer.ended())

    def _listen(self) -> None:
        """Requests waiting on the listening port (a few per wake), and the stop signal."""
        if self._wake_reader is not None:
            with contextlib.suppress(OSError):
                self._wake_reader.recv(64, socket.MSG_DONTWAIT)
        sock = self._socket
        if sock is None:
            return
        for _ in range(REQUESTS_PER_WAKE):
            try:
                buffer, client = sock.recvfrom(REQUEST_BYTES, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                return  # e.g. out of memory, or an ICMP error: the next wake tries again
            try:
                self._take(buffer, client)
            except Exception as error:  # one request must not take the listener down
                host = client[0] if client else "?"
                self.report(Transfer("?", host, "failed", error=f"server error: {error}"))

    # -- requests ----------------------------------------------------------------------------

    def _take(self, buffer: bytes, client: tuple) -> None:
        """Answer one datagram sent to the listening port: start a session or refuse."""
        host = client[0]
        try:
            request = parse_request(buffer)
        except Malformed as malformed:
            if malformed.code is not None:
                self._answer(error_packet(malformed.code, malformed.reason), client)
                self.report(Transfer(malformed.filename, host, "refused", error=malformed.reason))
            return
        if len(self._transfers) >= self.max_sessions:
            reason = f"server busy: {self.max_sessions} sessions in flight"
            self._answer(error_packet(ERROR_NOT_DEFINED, reason), client)
            self.report(Transfer(request.filename, host, "refused", error=reason))
            return
        try:
            sock = self._session_socket()
        except OSError as error:  # EMFILE, ENFILE, ENOBUFS: no room for one more
            self._answer(error_packet(ERROR_NOT_DEFINED, "server out of resources"), client)
            reason = f"cannot start a session: {error}"
            self.report(Transfer(request.filename, host, "failed", error=reason))
            return
        try:
            transfer = self._open(sock, request, client)
        except Refused as refusal:
            self._answer(error_packet(refusal.code), client, sock)
            sock.close()
            self.report(Transfer(request.filename, host, refusal.state, error=refusal.reason))
            return
        except Exception as error:
            self._answer(error_packet(ERROR_NOT_DEFINED, "server error"), client)
            sock.close()
            self.report(Transfer(request.filename, host, "failed", error=f"server error: {error}"))
            return
        self._transfers[sock.fileno()] = transfer
        self.report(transfer.event("started"))
        assert self._epoll is not None
        self._epoll.register(sock, select.EPOLLIN)
        self._step(transfer, transfer.session.start, time.monotonic())

    def _session_socket(self) -> socket.socket:
        """A transfer's own socket (its transfer ID), non-blocking: the loop reads it when ready."""
        sock = socket.socket(address_family(self.bind), socket.SOCK_DGRAM)
        try:
            sock.bind((self.bind, 0))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _open(self, sock: socket.socket, request: Request, client: tuple) -> _Transfer:
        """The transfer for a request the policy lets through; Refused otherwise."""
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
            return _Transfer(self, request, client, sock, fd, os.fstat(fd).st_size)
        except BaseException:
            os.close(fd)
            raise

    def _answer(self, packet: bytes, client: tuple, sock: socket.socket | None = None) -> None:
        sock = sock or self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.sendto(packet, client)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TftpServer:
        # Transfers are reported as events; tftpy's own log (if anything uses it) is noise.
        logging.getLogger("tftpy").setLevel(logging.CRITICAL)
        sock = bound_udp("TFTP", self.bind, self.port)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._epoll = select.epoll()
        self._epoll.register(sock, select.EPOLLIN)
        self._epoll.register(self._wake_reader, select.EPOLLIN)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve_forever, daemon=True, name="tftp")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now: transfers in flight end as failed, the port is free when this returns."""
        if self._thread is None:
            return
        self._stopping.set()
        if self._wake_writer is not None:
            with contextlib.suppress(OSError):
                self._wake_writer.send(b"x")
        self._thread.join(timeout=STOP_GRACE)
        for closing in (self._socket, self._wake_reader, self._wake_writer):
            if closing is not None:
                with contextlib.suppress(OSError):
                    closing.close()
        if self._epoll is not None and not self._thread.is_alive():
            self._epoll.close()
        self._socket = self._wake_reader = self._wake_writer = None
        self._epoll = None
        self._thread = None

    def __enter__(self) -> TftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
