"""A read-only HTTP server confined to its root, with transfer events and fault injection.

Built on the standard library's threading HTTP server (one thread per connection, HTTP/1.1
keep-alive). GET and HEAD only; names are percent-decoded and opened as workbench.lab.confine
says (open first, then check what was opened). Faults come from the same FaultPlan as the TFTP
server: fail the first N requests (503), stop after B bytes (a short body), corrupt a byte,
answer with a status (404...), stall after B bytes, leave out Content-Length.

Hardened for networks that are not ours:
- A request head (request line and headers, or the wait for the next request on a kept-alive
  connection) must arrive complete within `idle_seconds` (30 s): a slow or silent client
  (slowloris) is cut off by the server loop, which looks at every connection each 0.2 s.
- A body goes out with os.sendfile on a blocking socket whose kernel send timeout
  (SO_SNDTIMEO) is `idle_seconds`, so a client that stops reading is dropped, and the count
  of bytes sent is exact (the "connection lost" event says how far it got).
- A GET or HEAD with a body (Content-Length other than 0, Transfer-Encoding) is refused with
  400 and the connection closed: an unread body would be read as the next request (a
  smuggling shape behind a proxy). Refused methods close the connection for the same reason.
- A client that goes away raises no traceback: it ends its transfer as "failed".
- stop() reports every transfer still in flight (failed, "aborted") and closes every
  connection, so no thread waits on a client.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
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
# A trickling answer sends one byte this often.
TRICKLE_SECONDS = 2.0
IDLE_SECONDS = 30.0
POLL_SECONDS = 0.2


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Lab clients come in bursts (firmware, then the stub); the default 5 can refuse some.
    request_queue_size = 64

    def __init__(self, owner: HttpServer, address: tuple[str, int]) -> None:
        self.address_family = address_family(address[0])
        self.owner = owner
        super().__init__(address, _Handler)

    def service_actions(self) -> None:
        """Called by serve_forever() every poll: cut off connections too slow with a head."""
        super().service_actions()
        self.owner.cut_slow_heads()

    def handle_error(self, request: object, client_address: object) -> None:
        """A connection's exception: an event, never a traceback on the operator's terminal."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return  # the client went away between requests: nothing was in flight
        client = client_address[0] if isinstance(client_address, tuple) else "?"
        self.owner.report(
            Transfer("?", client, "failed", error=f"server error: {error!r}", protocol="http")
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "workbench-http"
    # When the current request head started to be awaited; None once it is read.
    head_since: float | None = None

    def setup(self) -> None:
        super().setup()
        idle = self.server.owner.idle_seconds
        self.connection.settimeout(idle)  # every read and header write
        seconds = int(idle)
        micro = int((idle - seconds) * 1_000_000)
        # The body goes out on the blocking socket: the kernel bounds each send.
        timeval = struct.pack("ll", seconds, micro)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        self.server.owner.opened(self)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client is gone; there is nothing left to flush to
        finally:
            self.server.owner.closed(self)

    def handle_one_request(self) -> None:
        self.head_since = time.monotonic()
        try:
            super().handle_one_request()
        except OSError:  # reset by the client, or cut off: the connection is over
            self.close_connection = True
        finally:
            self.head_since = None

    def log_message(self, format: str, *args: object) -> None:
        """Transfers are reported as events; the default stderr log would be noise."""

    def do_GET(self) -> None:
        self.head_since = None
        self.server.owner.answer(self, head=False)

    def do_HEAD(self) -> None:
        self.head_since = None
        self.server.owner.answer(self, head=True)

    def _refuse_method(self) -> None:
        self.head_since = None
        self.server.owner.refuse_method(self)

    do_PUT = do_POST = do_DELETE = do_PATCH = _refuse_method


class _Flight:
    """One response body on its way: what stop() reports if it never ends."""

    def __init__(self, handler: _Handler, name: str, size: int) -> None:
        self.handler = handler
        self.name = name
        self.size = size
        self.sent = 0
        self.started = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


class HttpServer:
    """Serve ROOT read-only over HTTP. `port` is set once start() returns."""

    def __init__(
        self,
        root: Path,
        bind: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        on_event: OnTransfer | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise WorkbenchError(f"{self.root}: no such directory to serve")
        if idle_seconds <= 0:
            raise WorkbenchError(f"the HTTP idle timeout must be positive, not {idle_seconds}")
        self.real_root = os.path.realpath(self.root)
        self.bind = bind
        self.port = port
        self.faults = faults or FaultPlan()
        self.on_event = on_event
        self.idle_seconds = idle_seconds
        self._failures = InjectedFailures(self.faults)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._handlers: set[_Handler] = set()
        self._flights: set[_Flight] = set()

    # -- connections -------------------------------------------------------------------------

    def opened(self, handler: _Handler) -> None:
        with self._lock:
            self._handlers.add(handler)

    def closed(self, handler: _Handler) -> None:
        with self._lock:
            self._handlers.discard(handler)

    def cut_slow_heads(self) -> None:
        """Shut down connections whose request head has taken longer than idle_seconds."""
        now = time.monotonic()
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            since = handler.head_since
            if since is not None and now - since > self.idle_seconds:
                _shut(handler.connection)

    # -- requests ----------------------------------------------------------------------------

    def report(self, event: Transfer) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def refuse_method(self, handler: _Handler) -> None:
        name = requested_name(handler.path)
        error = f"{handler.command} refused (read-only)"
        client = handler.client_address[0]
        self.report(Transfer(name, client, "refused", error=error, protocol="http"))
        # Its body is not read: close, so it is never taken for the next request.
        headers = {"Allow": "GET, HEAD", "Connection": "close"}
        with contextlib.suppress(OSError):
            send_status(handler, HTTPStatus.METHOD_NOT_ALLOWED, headers)
        handler.close_connection = True

    def answer(self, handler: _Handler, head: bool) -> None:
        name = requested_name(handler.path)
        client = handler.client_address[0]

        def event(state: str, sent: int = 0, total: int | None = None, **more: object) -> None:
            self.report(Transfer(name, client, state, sent, total, protocol="http", **more))  # type: ignore[arg-type]

        if has_body(handler):
            event("refused", error="a request body with GET or HEAD (400)")
            with contextlib.suppress(OSError):
                send_status(handler, HTTPStatus.BAD_REQUEST, {"Connection": "close"})
            handler.close_connection = True
            return
        try:
            fd = confine.open_inside_root(self.real_root, name)
        except confine.Refused as refusal:
            status = HTTPStatus.NOT_FOUND if refusal.not_found else HTTPStatus.FORBIDDEN
            event(refusal.state, error=f"{refusal.reason} ({status.value})")
            with contextlib.suppress(OSError):
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
        except OSError:
            handler.close_connection = True  # a status answer met a closed connection
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
        flight = _Flight(handler, name, size)
        with self._lock:
            self._flights.add(flight)
        event("started", total=size)
        try:
            handler.end_headers()
            sent = self._body(handler, fd, flight, event)
        except OSError as error:
            handler.close_connection = True
            timed_out = isinstance(error, TimeoutError | BlockingIOError)
            why = "timed out" if timed_out else error.strerror or error
            if self._end(flight):
                event("failed", flight.sent, size, seconds=flight.seconds(),
                      error=f"connection lost after {flight.sent} bytes: {why}")  # fmt: skip
            return
        if not self._end(flight):
            return  # stop() reported it
        if sent < size:
            stopping = self._stopping.is_set()
            why = "the server stopped" if stopping else "stopped on purpose (fault injected)"
            event("failed", sent, size, seconds=flight.seconds(), error=why)
        else:
            event("done", sent, size, seconds=flight.seconds())

    def _end(self, flight: _Flight) -> bool:
        """True for the one caller that ends `flight` (its thread, or stop())."""
        with self._lock:
            if flight not in self._flights:
                return False
            self._flights.discard(flight)
            return True

    def _body(self, handler: _Handler, fd: int, flight: _Flight,
              event: Callable[..., None]) -> int:  # fmt: skip
        name, size = flight.name, flight.size
        stop = self.faults.stop_after.get(name)
        stall = self.faults.stall_after.get(name)
        corrupt = self.faults.corrupt.get(name)
        trickle = self.faults.trickle_after.get(name)
        limit = min(x for x in (size, stop, stall, trickle) if x is not None)
        connection = handler.connection
        last_progress = flight.started
        # Blocking from here: each os.sendfile() moves a whole chunk, SO_SNDTIMEO bounds it.
        connection.settimeout(None)
        try:
            while flight.sent < limit and not self._stopping.is_set():
                count = min(CHUNK, limit - flight.sent)
                if corrupt is not None and flight.sent <= corrupt < flight.sent + count:
                    chunk = bytearray(os.pread(fd, count, flight.sent))
                    chunk[corrupt - flight.sent] ^= 0xFF
                    connection.sendall(chunk)
                    done = len(chunk)
                else:
                    done = _sendfile(connection, fd, flight.sent, count)
                if done <= 0:
                    break  # the file shrank under us
                flight.sent += done
                now = time.monotonic()
                if now - last_progress >= PROGRESS_INTERVAL:
                    last_progress = now
                    event("progress", flight.sent, size, seconds=flight.seconds())
        finally:
            with contextlib.suppress(OSError):
                connection.settimeout(self.idle_seconds)
        if trickle is not None and flight.sent >= trickle:
            self._trickle(handler, fd, flight, event)
        if stall is not None and flight.sent >= stall and stall < size:
            event("progress", flight.sent, size, seconds=flight.seconds())
            self._stopping.wait(STALL_SECONDS)
        if flight.sent < size:
            handler.close_connection = True
        return flight.sent

    def _trickle(self, handler: _Handler, fd: int, flight: _Flight,
                 event: Callable[..., None]) -> None:  # fmt: skip
        """One byte every TRICKLE_SECONDS until the body is out, the client gives up or the
        server stops."""
        while flight.sent < flight.size and not self._stopping.wait(TRICKLE_SECONDS):
            try:
                handler.connection.sendall(os.pread(fd, 1, flight.sent))
            except OSError:
                return  # the client gave up: the caller reports the bytes sent
            flight.sent += 1
            event("progress", flight.sent, flight.size, seconds=flight.seconds())

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> HttpServer:
        try:
            self._server = _Server(self, (self.bind, self.port))
        except OSError as error:
            raise cannot_serve("HTTP", self.bind, self.port, error) from None
        self.port = self._server.server_address[1]
        self._stopping.clear()
        serve = self._server.serve_forever
        self._thread = threading.Thread(
            target=serve, args=(POLL_SECONDS,), daemon=True, name="http"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now: transfers in flight are reported as aborted, every connection closes,
        and the port is free when this returns."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            flights, self._flights = self._flights, set()
            handlers = list(self._handlers)
        for flight in flights:
            client = flight.handler.client_address[0]
            self.report(Transfer(flight.name, client, "failed", flight.sent, flight.size,
                                 seconds=flight.seconds(), protocol="http",
                                 error="aborted: the server stopped"))  # fmt: skip
        for handler in handlers:
            _shut(handler.connection)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _sendfile(connection: socket.socket, fd: int, offset: int, count: int) -> int:
    """Bytes of the file at `offset` sent (up to `count`); TimeoutError when the kernel's send
    timeout passed with nothing sent."""
    try:
        return os.sendfile(connection.fileno(), fd, offset, count)
    except BlockingIOError:
        raise TimeoutError("timed out") from None


def _shut(connection: socket.socket) -> None:
    """Wake whatever waits on this connection (read or send) with an end or an error."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


def has_body(handler: BaseHTTPRequestHandler) -> bool:
    """Whether a request announces a body (any Transfer-Encoding, a Content-Length but 0)."""
    headers = handler.headers
    if headers.get_all("Transfer-Encoding"):
        return True
    lengths = headers.get_all("Content-Length") or []
    return len(lengths) > 1 or any(value.strip() != "0" for value in lengths)


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
