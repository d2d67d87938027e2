"""Our TFTP server's option negotiation, RFC 7440 windows, rollover, loss and many clients.

Clients are real: Debian's atftp (it asks for `windowsize` and prints the OACK with --trace)
and tftpy's client (plain RFC 1350 when it asks for nothing). Everything is on loopback.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tftpy
from conftest import REPO, require_tool

from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan
from workbench.lab.tftp import TftpServer
from workbench.lab.tftp_session import Limits, Session, negotiate


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tftp-root")
    (root / "one-mib").write_bytes(os.urandom(1 << 20))
    # 65536 * 512 bytes and a bit: block numbers roll over past 65535 at the default size.
    (root / "rollover").write_bytes(os.urandom(65536 * 512 + 1000))
    (root / "exact").write_bytes(os.urandom(1468 * 8))  # a multiple of the block: empty last DATA
    return root


def atftp(port: int, name: str, out: Path, *options: str, trace: bool = False) -> str:
    command = [require_tool("atftp")]
    for option in options:
        command += ["--option", option]
    if trace:
        command.append("--trace")
    command += ["-g", "-r", name, "-l", str(out), "127.0.0.1", str(port)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def serve(root: Path, **kwargs: object) -> tuple[TftpServer, list[Transfer]]:
    events: list[Transfer] = []
    server = TftpServer(root, on_event=events.append, **kwargs)  # type: ignore[arg-type]
    return server, events


def final(events: list[Transfer], name: str, deadline: float = 5.0) -> Transfer:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        done = [e for e in events if e.filename == name and e.state in ("done", "failed", "probe")]
        if done:
            return done[-1]
        time.sleep(0.02)
    raise AssertionError(f"no end event for {name}: {events}")


@pytest.mark.parametrize("window", [1, 4, 16])
def test_the_window_the_client_asks_for_is_granted(files: Path, tmp_path: Path, window: int):
    server, events = serve(files)
    with server:
        trace = atftp(server.port, "one-mib", tmp_path / "out", f"windowsize {window}",
                      "blksize 1468", "tsize 0", trace=True)  # fmt: skip
    assert f"windowsize: {window}" in trace  # the OACK carries it back
    assert (tmp_path / "out").read_bytes() == (files / "one-mib").read_bytes()
    end = final(events, "one-mib")
    assert (end.state, end.bytes, end.blksize, end.window) == ("done", 1 << 20, 1468, window)


def test_the_window_is_capped_by_the_server(files: Path, tmp_path: Path) -> None:
    server, events = serve(files, max_window=4)
    with server:
        trace = atftp(server.port, "one-mib", tmp_path / "out", "windowsize 32", trace=True)
    assert "windowsize: 4" in trace
    assert final(events, "one-mib").window == 4


def test_a_lock_step_server_leaves_windowsize_out_of_its_oack(files: Path, tmp_path: Path):
    server, _ = serve(files, max_window=1)
    with server:
        trace = atftp(server.port, "one-mib", tmp_path / "out", "windowsize 16", "blksize 1468",
                      trace=True)  # fmt: skip
    oack = next(line for line in trace.splitlines() if "received OACK" in line)
    assert "blksize: 1468" in oack and "windowsize" not in oack
    assert (tmp_path / "out").read_bytes() == (files / "one-mib").read_bytes()


def test_block_numbers_roll_over_past_65535(files: Path, tmp_path: Path) -> None:
    server, events = serve(files)
    with server:
        atftp(server.port, "rollover", tmp_path / "out", "windowsize 16")
    assert (tmp_path / "out").read_bytes() == (files / "rollover").read_bytes()
    assert final(events, "rollover").blksize == 512


def test_a_file_of_whole_blocks_ends_with_an_empty_block(files: Path, tmp_path: Path) -> None:
    server, _ = serve(files)
    with server:
        atftp(server.port, "exact", tmp_path / "out", "windowsize 4", "blksize 1468")
    assert (tmp_path / "out").read_bytes() == (files / "exact").read_bytes()


def test_lost_packets_are_resent_and_the_file_is_exact(files: Path, tmp_path: Path) -> None:
    server, events = serve(files, faults=FaultPlan(drop_every={"one-mib": 120}))
    with server:
        atftp(server.port, "one-mib", tmp_path / "out", "windowsize 8", "blksize 1468")
    assert (tmp_path / "out").read_bytes() == (files / "one-mib").read_bytes()
    end = final(events, "one-mib")
    assert end.state == "done" and end.retransmits > 0, end


def test_a_client_asking_nothing_gets_plain_rfc1350(files: Path) -> None:
    server, events = serve(files)
    with server:
        out = io.BytesIO()
        tftpy.TftpClient("127.0.0.1", server.port).download("one-mib", out, timeout=2)
    assert out.getvalue() == (files / "one-mib").read_bytes()
    end = final(events, "one-mib")
    assert (end.blksize, end.window) == (512, 1)


def test_refused_options_get_error_8(files: Path, tmp_path: Path) -> None:
    server, events = serve(files, faults=FaultPlan(refuse_options={"one-mib": "windowsize"}))
    with server:
        result = subprocess.run(
            [require_tool("atftp"), "--option", "windowsize 8", "-g", "-r", "one-mib", "-l",
             str(tmp_path / "out"), "127.0.0.1", str(server.port)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        # Without the option the same file comes.
        atftp(server.port, "one-mib", tmp_path / "out2", "blksize 1468")
    assert result.returncode != 0
    refusal = next(e for e in events if e.state == "refused")
    assert refusal.error == "option windowsize refused (fault injected)"
    assert (tmp_path / "out2").read_bytes() == (files / "one-mib").read_bytes()


def test_many_clients_at_once_all_get_exact_bytes(files: Path, tmp_path: Path) -> None:
    server, events = serve(files)
    expected = (files / "one-mib").read_bytes()

    def fetch(index: int) -> bytes:
        out = tmp_path / f"out{index}"
        atftp(server.port, "one-mib", out, "windowsize 16", "blksize 1468")
        return out.read_bytes()

    with server, ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(fetch, range(32)))
    assert all(result == expected for result in results)
    assert len([e for e in events if e.state == "done"]) == 32


def test_memory_stays_flat_with_many_clients(tmp_path: Path) -> None:
    """`workbench serve` in its own process: its peak RSS with 32 clients of a 4 MiB file stays
    far below what whole-file reads would need (32 x 4 MiB). The benchmark runs 64 MiB."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "big").write_bytes(os.urandom(4 << 20))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", str(root), "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "serving ..."
        baseline = _peak_rss_mib(server.pid)
        options = ("windowsize 8", "blksize 1468")
        threads = [
            threading.Thread(target=atftp, args=(port, "big", tmp_path / f"o{i}", *options))
            for i in range(32)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = _peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    expected = (root / "big").read_bytes()
    assert all((tmp_path / f"o{i}").read_bytes() == expected for i in range(32))
    assert peak - baseline < 48, (baseline, peak)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# -- pure parts ------------------------------------------------------------------------------


def test_negotiation_follows_the_rfcs() -> None:
    limits = Limits(max_blksize=65464, max_window=64)
    agreed = negotiate({"blksize": "1468", "tsize": "0", "windowsize": "16"}, 1234, limits)
    assert (agreed.blksize, agreed.window) == (1468, 16)
    assert agreed.oack == {"blksize": "1468", "tsize": "1234", "windowsize": "16"}
    # Upper-case names, values beyond the limits, junk and unknown options.
    agreed = negotiate({"BLKSIZE": "99999", "WindowSize": "500", "multicast": ""}, 5, limits)
    assert (agreed.blksize, agreed.window) == (65464, 64)
    assert negotiate({"blksize": "7", "windowsize": "0"}, 5, limits).oack == {}
    assert negotiate({"blksize": "x", "timeout": "300"}, 5, limits).oack == {}
    assert negotiate({"timeout": "3"}, 5, limits).timeout == 3.0
    # A lock-step server does not mention windowsize at all.
    assert "windowsize" not in negotiate({"windowsize": "16"}, 5, Limits(max_window=1)).oack


@pytest.mark.parametrize(
    ("wire", "low", "high", "expected"),
    [(5, 0, 8, 5), (0, 65530, 65540, 65536), (65535, 65530, 65540, 65535), (3, 65530, 65540, 65539),
     (10, 0, 8, None), (65529, 65530, 65540, None)],
)  # fmt: skip
def test_ack_numbers_unwrap_across_the_rollover(
    wire: int, low: int, high: int, expected: int | None
) -> None:
    assert Session._unwrap(wire, low, high) == expected
