"""The read-only TFTP server, over loopback with tftpy's client."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tftpy
from tftpy.TftpShared import TftpException, TftpFileNotFoundError, TftpTimeout

from workbench.errors import WorkbenchError
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan
from workbench.lab.tftp import TftpServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "EFI" / "Linux").mkdir(parents=True)
    (root / "EFI" / "Linux" / "vmlinuz").write_bytes(os.urandom(200_000))
    (root / "small").write_bytes(b"hello\n")
    (tmp_path / "secret").write_text("outside\n")
    (root / "escape").symlink_to(tmp_path / "secret")
    (root / "inside-link").symlink_to("small")
    return root


def download(port: int, name: str, timeout: float = 1.5) -> bytes:
    client = tftpy.TftpClient("127.0.0.1", port, options={"blksize": 1468})
    out = io.BytesIO()
    client.download(name, out, timeout=timeout)
    return out.getvalue()


def serve(root: Path, faults: FaultPlan | None = None) -> tuple[TftpServer, list[Transfer]]:
    events: list[Transfer] = []
    return TftpServer(root, faults=faults, on_event=events.append), events


def wait_for(events: list[Transfer], state: str, deadline: float = 3.0) -> Transfer:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for event in events:
            if event.state == state:
                return event
        time.sleep(0.02)
    raise AssertionError(f"no {state!r} event in {events}")


def test_normal_file_comes_back_byte_exact(served: Path) -> None:
    server, events = serve(served)
    with server:
        data = download(server.port, "EFI/Linux/vmlinuz")
        done = wait_for(events, "done")
    assert data == (served / "EFI/Linux/vmlinuz").read_bytes()
    assert done.filename == "EFI/Linux/vmlinuz"
    assert done.bytes == done.total == 200_000
    assert done.client == "127.0.0.1"
    assert [e.state for e in events if e.state != "progress"] == ["started", "done"]


def test_symlink_inside_root_is_served(served: Path) -> None:
    server, _ = serve(served)
    with server:
        assert download(server.port, "inside-link") == b"hello\n"


@pytest.mark.parametrize("name", ["../secret", "EFI/../../secret", "/../secret", "escape"])
def test_names_leaving_root_are_refused_with_access_violation(served: Path, name: str) -> None:
    server, events = serve(served)
    with server, pytest.raises(TftpException, match="Access violation"):
        download(server.port, name)
    refused = wait_for(events, "refused")
    assert refused.filename == name.lstrip("/")
    assert refused.error


def test_a_leading_slash_names_the_root_as_other_servers_read_it(served: Path) -> None:
    """shim asks for `/EFI/BOOT/grubx64.efi`; atftpd and dnsmasq serve it from their root."""
    server, events = serve(served)
    with server:
        assert download(server.port, "/inside-link") == b"hello\n"
    assert wait_for(events, "done").filename == "inside-link"
    with serve(served)[0] as again, pytest.raises(TftpFileNotFoundError):
        download(again.port, "/etc/passwd")  # the root's etc/passwd: there is none


def test_missing_file_is_not_found(served: Path) -> None:
    server, events = serve(served)
    with server, pytest.raises(TftpFileNotFoundError):
        download(server.port, "EFI/Linux/nope")
    assert wait_for(events, "failed").error == "not found"


def test_writes_are_refused_and_nothing_is_written(served: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"payload")
    server, events = serve(served)
    with server:
        client = tftpy.TftpClient("127.0.0.1", server.port)
        with pytest.raises(TftpException, match="Access violation"):
            client.upload("new.bin", str(upload), timeout=1.5)
    assert not (served / "new.bin").exists()
    assert wait_for(events, "refused").error == "writes are refused (read-only)"


def test_fail_first_fails_then_serves(served: Path) -> None:
    server, events = serve(served, FaultPlan(fail_first={"small": 2}))
    with server:
        for _ in range(2):
            with pytest.raises(TftpFileNotFoundError):
                download(server.port, "small")
        assert download(server.port, "small") == b"hello\n"
    failures = [e for e in events if e.state == "failed"]
    assert len(failures) == 2
    assert all("fault injected" in (e.error or "") for e in failures)


def test_corrupt_flips_exactly_one_byte(served: Path) -> None:
    offset = 70_000
    server, _ = serve(served, FaultPlan(corrupt={"EFI/Linux/vmlinuz": offset}))
    with server:
        data = download(server.port, "EFI/Linux/vmlinuz")
    original = (served / "EFI/Linux/vmlinuz").read_bytes()
    assert len(data) == len(original)
    assert [i for i in range(len(data)) if data[i] != original[i]] == [offset]
    assert data[offset] == original[offset] ^ 0xFF


def test_stop_after_makes_the_client_time_out(served: Path) -> None:
    server, events = serve(served, FaultPlan(stop_after={"EFI/Linux/vmlinuz": 10_000}))
    with server, pytest.raises(TftpTimeout):
        download(server.port, "EFI/Linux/vmlinuz", timeout=0.5)
    failed = wait_for(events, "failed")
    assert failed.bytes <= 10_000
    assert "stopped after" in (failed.error or "")


def test_busy_port_is_a_one_line_error(served: Path) -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(WorkbenchError, match="port already in use") as caught:
            TftpServer(served, port=port).start()
    assert "\n" not in str(caught.value)


def test_stop_is_prompt(served: Path) -> None:
    server, _ = serve(served)
    server.start()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0


def test_serve_command_busy_port_exits_2_with_one_line(served: Path) -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())",
             "serve", str(served), "--port", str(port)],
            capture_output=True, text=True, cwd=REPO, timeout=30,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "port already in use" in result.stderr


def free_udp_port() -> int:
    with socket.socket(type=socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_command_serves_logs_and_stops_on_ctrl_c(served: Path) -> None:
    port = free_udp_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())",
         "serve", str(served), "--port", str(port), "--corrupt", "small=0",
         "--fail-first", "/EFI/Linux/vmlinuz=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        # Test runners may ignore SIGINT, and children inherit that: give it back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        assert "read-only on 127.0.0.1:" in process.stdout.readline()
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        assert download(port, "small") == bytes([ord("h") ^ 0xFF]) + b"ello\n"
        with pytest.raises(TftpFileNotFoundError):
            download(port, "EFI/Linux/vmlinuz")
        assert download(port, "EFI/Linux/vmlinuz") == (served / "EFI/Linux/vmlinuz").read_bytes()
        # The server logs a transfer when the last ACK comes in, which may be after the client
        # returns: wait for that line (a busy machine can take a while) before Ctrl-C.
        deadline = time.monotonic() + 20
        while not any("done" in line and "EFI/Linux/vmlinuz" in line for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        reader.join(timeout=10)
        errors = process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == 0, errors
    lines = [line.rstrip("\n") for line in lines]
    assert any("done" in line and "small 6/6 bytes" in line for line in lines)
    assert any("failed" in line and "fault injected" in line for line in lines)
    assert sum("done" in line and "EFI/Linux/vmlinuz" in line for line in lines) == 1
    assert lines[-1] == "stopped"


def test_a_client_gone_quiet_is_reported_with_the_bytes_it_acknowledged(served: Path) -> None:
    """A boot that then times out says how far the transfer got, not 0 bytes."""
    server, events = serve(served)
    with server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(3)
        request = b"\0\x01EFI/Linux/vmlinuz\0octet\0blksize\x00512\0timeout\x001\0"
        client.sendto(request, ("127.0.0.1", server.port))
        packet, peer = client.recvfrom(2048)
        assert packet[:2] == b"\0\x06"  # OACK
        client.sendto(b"\0\x04\0\0", peer)
        for block in (1, 2, 3):
            packet, peer = client.recvfrom(2048)
            assert packet[:4] == b"\0\x03" + block.to_bytes(2, "big")
            client.sendto(b"\0\x04" + block.to_bytes(2, "big"), peer)
        # Then silence: within the agreed 1 s timeout the server reports 3 blocks through.
        end = time.monotonic() + 4
        while time.monotonic() < end:
            if any(e.state == "progress" and e.bytes == 3 * 512 for e in events):
                break
            time.sleep(0.05)
        assert [e.bytes for e in events if e.state == "progress"][-1:] == [3 * 512], events
