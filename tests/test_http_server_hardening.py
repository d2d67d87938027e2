"""The HTTP server against hostile or broken clients: disconnects, silence, slow heads, bodies
on GET, FIFOs, names that would forge log lines, and a stop with transfers in flight. All on
loopback with raw sockets, so every byte (and every reset) is ours to choose."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workbench.commands.serve import describe
from workbench.lab.events import Transfer
from workbench.lab.http import HttpServer

BIG = 32 << 20  # more than the socket buffers hold: a client that stops reading stalls a send


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    tree.mkdir()
    (tree / "small").write_bytes(b"hello\n")
    with open(tree / "big", "wb") as big:
        big.truncate(BIG)
    os.mkfifo(tree / "fifo")
    (tree / "to-fifo").symlink_to("fifo")
    return tree


@pytest.fixture
def served(root: Path) -> Iterator[tuple[HttpServer, list[Transfer]]]:
    events: list[Transfer] = []
    with HttpServer(root, on_event=events.append, idle_seconds=1.0) as server:
        yield server, events


def connect(server: HttpServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that vanished does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes; TimeoutError if it does not by then."""
    received = b""
    end = time.monotonic() + deadline
    while True:
        sock.settimeout(max(0.01, end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def wait_for(events: list[Transfer], predicate: Callable[[Transfer], bool],
             deadline: float = 5.0) -> Transfer:  # fmt: skip
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for event in list(events):
            if predicate(event):
                return event
        time.sleep(0.02)
    raise AssertionError(f"no such event in {events}")


def test_a_client_gone_mid_body_ends_its_transfer_with_the_bytes_sent(
    served: tuple[HttpServer, list[Transfer]], capfd: pytest.CaptureFixture[str]
) -> None:
    server, events = served
    sock = connect(server)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    while len(received) < 200_000:
        received += sock.recv(65536)
    reset(sock)
    body = len(received.partition(b"\r\n\r\n")[2])
    failed = wait_for(events, lambda e: e.filename == "big" and e.state == "failed")
    assert "connection lost after" in (failed.error or "")
    assert body <= failed.bytes < BIG  # what left the server, not 0
    assert str(failed.bytes) in (failed.error or "")
    assert "Traceback" not in capfd.readouterr().err


def test_a_reset_idle_keep_alive_raises_no_traceback(
    served: tuple[HttpServer, list[Transfer]], capfd: pytest.CaptureFixture[str]
) -> None:
    server, events = served
    sock = connect(server)
    sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"hello\n"):
        answer += sock.recv(65536)
    wait_for(events, lambda e: e.state == "done")
    reset(sock)
    time.sleep(0.3)  # the server's read meets the reset
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err
    assert [e.state for e in events] == ["started", "done"]


def test_an_idle_connection_is_closed_after_the_idle_timeout(
    served: tuple[HttpServer, list[Transfer]],
) -> None:
    server, _ = served
    with connect(server) as sock:
        started = time.monotonic()
        assert read_until_closed(sock, deadline=4) == b""
    assert time.monotonic() - started < 3


def test_a_slow_request_head_is_cut_off(served: tuple[HttpServer, list[Transfer]]) -> None:
    """A byte every 0.3 s resets any per-read timeout: only a bound on the whole head works."""
    server, _ = served
    with connect(server) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4:
            try:
                sock.sendall(b"X")
            except OSError:
                closed = True
                break
            sock.settimeout(0.3)
            try:
                if sock.recv(100) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "body_header", [b"Content-Length: 32\r\n", b"Transfer-Encoding: chunked\r\n"]
)
def test_a_get_with_a_body_is_answered_once_with_400(
    served: tuple[HttpServer, list[Transfer]], body_header: bytes
) -> None:
    server, events = served
    smuggled = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
    assert len(smuggled) == 32
    with connect(server) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n" + body_header + b"\r\n" + smuggled)
        answer = read_until_closed(sock, deadline=4)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.count(b"HTTP/1.1 ") == 1
    refused = wait_for(events, lambda e: e.state == "refused")
    assert "body" in (refused.error or "")
    assert not any(e.state == "done" for e in events)


def test_a_refused_method_closes_its_connection(served: tuple[HttpServer, list[Transfer]]) -> None:
    server, _ = served
    smuggled = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\n" + smuggled)
        answer = read_until_closed(sock, deadline=4)
    assert answer.startswith(b"HTTP/1.1 405 ") and answer.count(b"HTTP/1.1 ") == 1


def test_a_get_with_an_empty_length_is_served(served: tuple[HttpServer, list[Transfer]]) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while not answer.endswith(b"hello\n"):
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("name", ["fifo", "to-fifo"])
def test_a_fifo_is_refused_at_once(served: tuple[HttpServer, list[Transfer]], name: str) -> None:
    server, events = served
    with connect(server) as sock:
        sock.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.settimeout(3)
        assert sock.recv(100).startswith(b"HTTP/1.1 403 ")
    refused = wait_for(events, lambda e: e.filename == name)
    assert refused.state == "refused" and "a FIFO" in (refused.error or "")


def test_stop_reports_transfers_in_flight_and_ends_them(root: Path) -> None:
    events: list[Transfer] = []
    server = HttpServer(root, on_event=events.append).start()  # the default 30 s idle timeout
    readers = []
    for _ in range(2):
        sock = connect(server)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(1000)  # the answer has begun; then nobody reads: the sends block
        readers.append(sock)
    idle = connect(server)  # a kept-alive connection with nothing asked yet
    wait_for(events, lambda e: sum(x.state == "started" for x in events) == 2)
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    aborted = [e for e in events if e.state == "failed" and "aborted" in (e.error or "")]
    assert len(aborted) == 2
    assert all(0 < e.bytes < BIG for e in aborted)
    for sock in (*readers, idle):
        sock.close()


def test_names_are_escaped_in_the_log(served: tuple[HttpServer, list[Transfer]]) -> None:
    server, events = served
    for target in ("/x%0a127.0.0.1%20done%20forged", "/%1b[2J%1b]0;t%07", "/%c2%9b31m"):
        with connect(server) as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.settimeout(3)
            sock.recv(100)
    wait_for(events, lambda e: len(events) >= 3)
    lines = [describe(event) for event in events]
    assert all(not any(c in line for c in "\n\x1b\x07\x9b") for line in lines)
    assert "x\\x0a127.0.0.1 done forged" in lines[0]
    assert "\\x1b[2J\\x1b]0;t\\x07" in lines[1]
    assert "\\xc2\\x9b31m" in lines[2]
