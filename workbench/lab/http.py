"""A read-only HTTP server confined to its root, with transfer events and fault injection.

Built on the standard library's threading HTTP server (one thread per connection, HTTP/1.1
keep-alive). GET and HEAD only; names are percent-decoded and opened as workbench.lab.confine
says (open first, then check what was opened). Faults come from the same FaultPlan as the TFTP
server: fail the first N requests (503), stop after B bytes (a short body), corrupt a byte,
answer with a status (404...), stall after B bytes, leave out Content-Length.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.lab import confine
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan, InjectedFailures
from workbench.lab.listen import address_family, cannot_serve

OnTransfer = Callable[[Transfer], None]
PROGRESS_INTERVAL = 0.5
CHUNK = 1 << 20
# A stalled answer holds its connection this long at most (the client gives up first).
STALL_SECONDS = 60.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Lab clients come in bursts (firmware, then the stub); the default 5 can refuse some.
    request_queue_size = 64

    def __init__(self, owner: HttpServer, address: tuple[str, int]) -> None:
        self.address_family = address_family(address[0])
        self.owner = owner
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "workbench-http"

    def log_message(self, format: str, *args: object) -> None:
        """Transfers are reported as events; the default stderr log would be noise."""

    def do_GET(self) -> None:
        self.server.owner.answer(self, head=False)

    def do_HEAD(self) -> None:
        self.server.owner.answer(self, head=True)

    def _refuse_method(self) -> None:
        self.server.owner.refuse_method(self)

    do_PUT = do_POST = do_DELETE = do_PATCH = _refuse_method


class HttpServer:
    """Serve ROOT read-only over HTTP. `port` is set once start() returns."""

    def __init__(
        self,
        root: Path,
        bind: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        on_event: OnTransfer | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise WorkbenchError(f"{self.root}: no such directory to serve")
        self.real_root = os.path.realpath(self.root)
        self.bind = bind
        self.port = port
        self.faults = faults or FaultPlan()
        self.on_event = on_event
        self._failures = InjectedFailures(self.faults)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- requests ----------------------------------------------------------------------------

    def report(self, event: Transfer) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def refuse_method(self, handler: _Handler) -> None:
        name = requested_name(handler.path)
        error = f"{handler.command} refused (read-only)"
        client = handler.client_address[0]
        self.report(Transfer(name, client, "refused", error=error, protocol="http"))
        send_status(handler, HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD"})

    def answer(self, handler: _Handler, head: bool) -> None:
        name = requested_name(handler.path)
        client = handler.client_address[0]

        def event(state: str, sent: int = 0, total: int | None = None, **more: object) -> None:
            self.report(Transfer(name, client, state, sent, total, protocol="http", **more))  # type: ignore[arg-type]

        try:
            fd = confine.open_inside_root(self.real_root, name)
        except confine.Refused as refusal:
            status = HTTPStatus.NOT_FOUND if refusal.not_found else HTTPStatus.FORBIDDEN
            event(refusal.state, error=f"{refusal.reason} ({status.value})")
            send_status(handler, status)
            return
        try:
            size = os.fstat(fd).st_size
            if name in self.faults.http_status:
                code = self.faults.http_status[name]
                event("failed", total=size, error=f"status {code} (fault injected)")
                send_status(handler, code)
                return
            if not head and self._failures.take(name):
                event("failed", total=size, error="503 on purpose (fault injected)")
                send_status(handler, HTTPStatus.SERVICE_UNAVAILABLE)
                return
            self._send(handler, fd, size, head, event)
        finally:
            os.close(fd)

    def _send(self, handler: _Handler, fd: int, size: int, head: bool,
              event: Callable[..., None]) -> None:  # fmt: skip
        name = requested_name(handler.path)
        no_length = name in self.faults.no_length
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", "application/octet-stream")
        if no_length:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", str(size))
        if head:
            event("probe", total=size)  # reported before the answer leaves
            handler.end_headers()
            return
        handler.end_headers()
        event("started", total=size)
        started = time.monotonic()
        try:
            sent = self._body(handler, fd, size, name, event, started)
        except OSError as error:
            event("failed", 0, size, seconds=round(time.monotonic() - started, 3),
                  error=f"connection lost: {error.strerror or error}")  # fmt: skip
            handler.close_connection = True
            return
        seconds = round(time.monotonic() - started, 3)
        if sent < size:
            stopping = self._stopping.is_set()
            why = "the server stopped" if stopping else "stopped on purpose (fault injected)"
            event("failed", sent, size, seconds=seconds, error=why)
        else:
            event("done", sent, size, seconds=seconds)

    def _body(self, handler: _Handler, fd: int, size: int, name: str,
              event: Callable[..., None], started: float) -> int:  # fmt: skip
        stop = self.faults.stop_after.get(name)
        stall = self.faults.stall_after.get(name)
        corrupt = self.faults.corrupt.get(name)
        limit = min(x for x in (size, stop, stall) if x is not None)
        connection = handler.connection
        sent, last_progress = 0, started
        while sent < limit and not self._stopping.is_set():
            count = min(CHUNK, limit - sent)
            if corrupt is not None and sent <= corrupt < sent + count:
                chunk = bytearray(os.pread(fd, count, sent))
                chunk[corrupt - sent] ^= 0xFF
                connection.sendall(chunk)
                done = len(chunk)
            else:
                done = connection.sendfile(_FdFile(fd), sent, count) or 0
            if done <= 0:
                break
            sent += done
            now = time.monotonic()
            if now - last_progress >= PROGRESS_INTERVAL:
                last_progress = now
                event("progress", sent, size, seconds=round(now - started, 3))
        if stall is not None and sent >= stall and stall < size:
            event("progress", sent, size, seconds=round(time.monotonic() - started, 3))
            self._stopping.wait(STALL_SECONDS)
        if sent < size:
            handler.close_connection = True
        return sent

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> HttpServer:
        try:
            self._server = _Server(self, (self.bind, self.port))
        except OSError as error:
            raise cannot_serve("HTTP", self.bind, self.port, error) from None
        self.port = self._server.server_address[1]
        self._stopping.clear()
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(0.2,), daemon=True, name="http")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now: the port is free when this returns; stalled answers end."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _FdFile:
    """What socket.sendfile() needs of a file: its descriptor (reads go by offset)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def seek(self, offset: int) -> None:
        """sendfile() passes explicit offsets; the descriptor's own position stays put."""


def requested_name(target: str) -> str:
    """The name under the root a request target asks for: path only, percent-decoded."""
    path = urllib.parse.urlsplit(target).path
    # Bytes that are not UTF-8 become U+FFFD: such a name is simply not found.
    return urllib.parse.unquote(path, errors="replace").lstrip("/") if path else ""


def send_status(handler: BaseHTTPRequestHandler, status: int,
                headers: dict[str, str] | None = None) -> None:  # fmt: skip
    """A short plain-text answer with its Content-Length (keep-alive stays usable)."""
    with contextlib.suppress(ValueError):
        status = HTTPStatus(status)
    body = f"{int(status)}\n".encode()
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
