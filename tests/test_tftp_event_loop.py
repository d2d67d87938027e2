"""The TFTP server's event loop: one thread for every transfer, deadlines instead of polling,
one shared send buffer, and what it does when a transfer cannot get a socket."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import require_tool

from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan
from workbench.lab.tftp import TftpServer
from workbench.lab.tftp_blocks import BlockSender
from workbench.lab.tftp_deadlines import Deadlines


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tftp-loop")
    (root / "two-mib").write_bytes(os.urandom(2 << 20))
    (root / "small").write_bytes(b"hello\n")
    return root


def atftp(port: int, name: str, out: Path, *options: str) -> None:
    command = [require_tool("atftp")]
    for option in options:
        command += ["--option", option]
    command += ["-g", "-r", name, "-l", str(out), "127.0.0.1", str(port)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def rrq(name: bytes, *options: bytes) -> bytes:
    return b"\x00\x01" + name + b"\x00octet\x00" + b"".join(o + b"\x00" for o in options)


def wait_until(condition: object, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_many_sessions_at_once_are_served_by_one_thread(files: Path, tmp_path: Path) -> None:
    threads: set[int] = set()
    events: list[Transfer] = []

    def on_event(event: Transfer) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    server = TftpServer(files, on_event=on_event)
    before = threading.active_count()
    peak = 0

    def fetch(index: int) -> bytes:
        nonlocal peak
        peak = max(peak, threading.active_count())
        out = tmp_path / f"out{index}"
        atftp(server.port, "two-mib", out, "windowsize 8", "blksize 1468")
        return out.read_bytes()

    with server, ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(fetch, range(16)))
    expected = (files / "two-mib").read_bytes()
    assert all(result == expected for result in results)
    assert len([e for e in events if e.state == "done"]) == 16
    assert len(threads) == 1  # every event of every transfer came from the loop's thread
    assert peak <= before + 1 + 16  # the loop and the pool's own threads, none per transfer


def test_idle_sessions_do_not_wake_the_loop(files: Path) -> None:
    """Sessions waiting on clients that never answer (timeout 5 s): the loop sleeps until the
    first deadline instead of waking for each of them every fraction of a second."""
    server = TftpServer(files)
    clients = []
    with server:
        for _ in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(3)
            sock.sendto(rrq(b"two-mib", b"timeout", b"5"), ("127.0.0.1", server.port))
            clients.append(sock)
        for sock in clients:
            assert sock.recvfrom(100)[0][:2] == b"\x00\x06"  # OACK, then nothing from us
        assert server.sessions == 20
        before = server.wakeups
        time.sleep(1.5)
        assert server.wakeups - before == 0
        for sock in clients:
            sock.close()


def test_stop_ends_idle_sessions_at_once_as_failed(files: Path) -> None:
    events: list[Transfer] = []
    server = TftpServer(files, on_event=events.append).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(rrq(b"two-mib", b"timeout", b"5"), ("127.0.0.1", server.port))
        sock.recvfrom(100)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 0.5
    ended = [e for e in events if e.state == "failed"]
    assert [e.error for e in ended] == ["the server stopped"]


def _peak_while_eight_fetch(files: Path, out: Path, name: str) -> int:
    """Everything the process allocates (server, the test's threads and pipes) while eight
    atftp clients fetch `name` at blksize 8192, window 8."""
    tracemalloc.start()
    try:
        server = TftpServer(files)
        with server, ThreadPoolExecutor(max_workers=8) as pool:
            tracemalloc.reset_peak()
            list(pool.map(lambda i: atftp(server.port, name, out / f"{name}-{i}",
                                          "windowsize 8", "blksize 8192"), range(8)))  # fmt: skip
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_memory_per_session_is_not_the_file_nor_the_window(files: Path, tmp_path: Path) -> None:
    """Eight clients of a 2 MiB file at blksize 8192, window 8, against the same eight fetching a
    six-byte file (the test's own threads and pipes, about 300 KiB and varying with the load):
    what the big transfers add stays below one window's buffer per client (8 x 64 KiB), let
    alone a file each (16 MiB)."""
    baseline = _peak_while_eight_fetch(files, tmp_path, "small")
    peak = _peak_while_eight_fetch(files, tmp_path, "two-mib")
    expected = (files / "two-mib").read_bytes()
    assert all((tmp_path / f"two-mib-{i}").read_bytes() == expected for i in range(8))
    assert peak - baseline < 512 << 10, (peak, baseline)


def test_a_session_without_a_socket_is_answered_and_the_loop_goes_on(files: Path) -> None:
    events: list[Transfer] = []
    server = TftpServer(files, on_event=events.append)
    real = server._session_socket
    calls = 0

    def no_room_for_the_first() -> socket.socket:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real()

    server._session_socket = no_room_for_the_first  # type: ignore[method-assign]
    with server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(rrq(b"small"), ("127.0.0.1", server.port))
        answer, _ = sock.recvfrom(100)
        assert answer[:4] == b"\x00\x05\x00\x00" and b"out of resources" in answer
        sock.sendto(rrq(b"small"), ("127.0.0.1", server.port))
        answer, session = sock.recvfrom(100)
        assert answer == b"\x00\x03\x00\x01hello\n"
        sock.sendto(b"\x00\x04\x00\x01", session)
        wait_until(lambda: any(e.state == "done" for e in events))
    failed = next(e for e in events if e.state == "failed")
    assert "cannot start a session" in (failed.error or "")


# -- the send path ---------------------------------------------------------------------------


def _receive_all(sock: socket.socket) -> list[bytes]:
    packets = []
    sock.settimeout(0.3)
    try:
        while True:
            packets.append(sock.recv(70000))
    except TimeoutError:
        return packets


@pytest.mark.parametrize("offload", [True, False])
@pytest.mark.parametrize("size", [0, 5, 1468 * 50, 1468 * 50 + 7])
def test_blocks_go_out_as_exact_data_packets(tmp_path: Path, offload: bool, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "file").write_bytes(data)
    blksize = 1468
    last_block = size // blksize + 1
    sender = BlockSender()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as into,
    ):
        into.bind(("127.0.0.1", 0))
        into.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        fd = os.open(tmp_path / "file", os.O_RDONLY)
        try:
            sender.send(out, into.getsockname(), fd, 1, last_block, blksize, size, offload)
        finally:
            os.close(fd)
        packets = _receive_all(into)
    assert [int.from_bytes(p[:4], "big") for p in packets] == [
        (3 << 16) | block for block in range(1, last_block + 1)
    ]
    assert b"".join(p[4:] for p in packets) == data
    assert len(packets[-1]) - 4 < blksize


def test_block_numbers_on_the_wire_roll_over(tmp_path: Path) -> None:
    blksize = 8
    (tmp_path / "file").write_bytes(os.urandom(blksize * 65540))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as into,
    ):
        into.bind(("127.0.0.1", 0))
        fd = os.open(tmp_path / "file", os.O_RDONLY)
        try:
            BlockSender().send(out, into.getsockname(), fd, 65534, 65538, blksize,
                               blksize * 65540, True)  # fmt: skip
        finally:
            os.close(fd)
        packets = _receive_all(into)
    assert [int.from_bytes(p[2:4], "big") for p in packets] == [65534, 65535, 0, 1, 2]


def test_the_earliest_deadline_comes_first_and_moved_ones_are_requeued() -> None:
    class Item:
        def __init__(self, deadline: float) -> None:
            self.deadline = deadline

    deadlines = Deadlines()
    early, late, idle = Item(1.0), Item(2.0), Item(float("inf"))
    for item in (early, late, idle):
        deadlines.watch(item)
    assert deadlines.first() == 1.0 and len(deadlines) == 2
    early.deadline = 3.0  # moved later: no new entry until the old one comes due
    deadlines.watch(early)
    assert len(deadlines._heap) == 2
    assert deadlines.due(1.5) == []
    assert deadlines.due(2.5) == [late]
    late.deadline = 0.5  # moved earlier: queued again at once
    deadlines.watch(late)
    assert deadlines.due(3.0) == [late, early]
    assert deadlines.first() is None


def test_repeat_after_resends_the_last_acknowledged_block_until_the_stop(files: Path) -> None:
    events: list[Transfer] = []
    plan = FaultPlan(repeat_after={"two-mib": 3000})
    server = TftpServer(files, faults=plan, on_event=events.append).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(rrq(b"two-mib"), ("127.0.0.1", server.port))
        for block in range(1, 7):  # 6 x 512 bytes acknowledged: past 3000
            packet, session = sock.recvfrom(600)
            assert packet[:4] == b"\x00\x03" + block.to_bytes(2, "big")
            sock.sendto(b"\x00\x04" + block.to_bytes(2, "big"), session)
        packet, _ = sock.recvfrom(600)
        assert packet[:4] == b"\x00\x03\x00\x06"  # the old block again, nothing new
        server.stop()
    failed = next(e for e in events if e.state == "failed")
    assert failed.bytes == 6 * 512
    assert failed.error == "repeated an old block after 3000 bytes (fault injected)"


def test_a_busy_transfer_keeps_one_timer_entry_and_a_stuck_client_ends(files: Path) -> None:
    """Every window moves the transfer's deadline: the heap must not grow by one entry per
    window. And a client that ACKs the same old block for ever cannot hold its session."""
    server = TftpServer(files)
    server.limits.retries = 1
    with server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(rrq(b"two-mib"), ("127.0.0.1", server.port))
        heap_sizes = []
        for block in range(1, 400):  # lock-step, block by block
            packet, session = sock.recvfrom(600)
            assert int.from_bytes(packet[2:4], "big") == block
            sock.sendto(b"\x00\x04" + block.to_bytes(2, "big"), session)
            heap_sizes.append(len(server._deadlines._heap))
        assert max(heap_sizes) <= 2
        sock.settimeout(0.1)
        end = time.monotonic() + 5
        while server.sessions and time.monotonic() < end:
            sock.sendto(b"\x00\x04" + (399).to_bytes(2, "big"), session)  # stale, again and again
            with contextlib.suppress(TimeoutError):
                while True:
                    sock.recvfrom(600)
        assert server.sessions == 0
