"""A read-only TFTP server confined to its root, with transfer events and fault injection.

The listener takes requests on its port and gives each read its own thread and socket (its
own transfer ID); `workbench.lab.tftp_session` runs the transfer (options, RFC 7440 windows).
Packets are parsed and built with tftpy's packet classes. Writes are always refused.

Names are opened as workbench.lab.confine says: open first, then check what was opened.
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

from tftpy.TftpPacketFactory import TftpPacketFactory
from tftpy.TftpPacketTypes import TftpPacketRRQ, TftpPacketWRQ

from workbench.errors import WorkbenchError
from workbench.lab import confine
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan, InjectedFailures
from workbench.lab.listen import address_family, cannot_serve
from workbench.lab.tftp_session import (
    ERROR_ACCESS_VIOLATION,
    ERROR_FILE_NOT_FOUND,
    ERROR_ILLEGAL_OPERATION,
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


class Refused(Exception):
    """A request the server answers with an ERROR packet; `state` is the event's state."""

    def __init__(self, code: int, state: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.state = state
        self.reason = reason


class TftpServer:
    """Serve ROOT read-only over TFTP. `port` is set once start() returns."""

    def __init__(self, root: Path, bind: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None, on_event: OnTransfer | None = None,
                 max_window: int = DEFAULT_MAX_WINDOW) -> None:  # fmt: skip
        self.root = Path(root)
        if not self.root.is_dir():
            raise WorkbenchError(f"{self.root}: no such directory to serve")
        if max_window < 1:
            raise WorkbenchError(f"the TFTP window cap must be 1 or more, not {max_window}")
        self.real_root = os.path.realpath(self.root)
        self.bind = bind
        self.port = port
        self.faults = faults or FaultPlan()
        self.on_event = on_event
        self.limits = Limits(max_window=max_window)
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
        factory = TftpPacketFactory()
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._socket], [], [], POLL_SECONDS)
            if not ready:
                continue
            try:
                buffer, client = self._socket.recvfrom(65536)
            except OSError:
                continue
            if self._stopping.is_set():
                break
            try:
                packet = factory.parse(buffer)
            except Exception:
                continue  # not TFTP: nothing to answer
            if isinstance(packet, TftpPacketWRQ | TftpPacketRRQ):
                thread = threading.Thread(
                    target=self._transfer, args=(packet, client), daemon=True, name="tftp-xfer"
                )
                with self._lock:
                    self._sessions.add(thread)
                thread.start()

    def _transfer(self, packet: TftpPacketRRQ | TftpPacketWRQ, client: tuple[str, int]) -> None:
        host = client[0]
        name = getattr(packet, "filename", "?")
        try:
            with socket.socket(address_family(self.bind), socket.SOCK_DGRAM) as sock:
                sock.bind((self.bind, 0))
                try:
                    self._read(sock, packet, client)
                except Refused as refusal:
                    sock.sendto(error_packet(refusal.code), client)
                    self.report(Transfer(name, host, refusal.state, error=refusal.reason))  # type: ignore[arg-type]
        except Exception as error:  # a transfer's bug must not take the server down
            self.report(Transfer(name, host, "failed", error=f"server error: {error}"))
        finally:
            with self._lock:
                self._sessions.discard(threading.current_thread())

    def _read(self, sock: socket.socket, packet: TftpPacketRRQ | TftpPacketWRQ,
              client: tuple[str, int]) -> None:  # fmt: skip
        name = packet.filename
        if isinstance(packet, TftpPacketWRQ):
            raise Refused(ERROR_ACCESS_VIOLATION, "refused", "writes are refused (read-only)")
        if packet.mode != "octet":
            raise Refused(ERROR_ILLEGAL_OPERATION, "refused", f"mode {packet.mode!r} (octet only)")
        asked = {str(key).lower() for key in (packet.options or {})}
        refusing = self.faults.refuse_options.get(name, "").lower().split(",")
        refused = sorted(asked & {option.strip() for option in refusing if option.strip()})
        if refused:
            reason = f"option {refused[0]} refused (fault injected)"
            raise Refused(ERROR_OPTION_REFUSED, "refused", reason)
        fd = self.open_inside_root(name)
        try:
            if self._failures.take(name):
                raise Refused(ERROR_FILE_NOT_FOUND, "failed", "failed on purpose (fault injected)")
            self._send(sock, packet, client, fd)
        finally:
            os.close(fd)

    def _send(self, sock: socket.socket, packet: TftpPacketRRQ, client: tuple[str, int],
              fd: int) -> None:  # fmt: skip
        name, host = packet.filename, client[0]
        size = os.fstat(fd).st_size
        agreed = negotiate(packet.options or {}, size, self.limits)

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
        for thread in sessions:
            thread.join(timeout=1.0)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._socket = None
        self._thread = None

    def __enter__(self) -> TftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
