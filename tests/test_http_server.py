"""The lab's read-only HTTP server on loopback: confinement, methods, faults and events."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require

from workbench.errors import WorkbenchError
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan
from workbench.lab.http import HttpServer, requested_name

NAME = "EFI/Linux/vmlinuz"
DATA = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    (tree / "EFI/Linux").mkdir(parents=True)
    (tree / NAME).write_bytes(DATA)
    (tree / "a b.txt").write_bytes(b"spaced")
    (tmp_path / "secret").write_bytes(b"outside")
    (tree / "escape").symlink_to(tmp_path / "secret")
    return tree


class Served:
    def __init__(self, server: HttpServer, events: list[Transfer]) -> None:
        self.server = server
        self.events = events

    def get(self, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.server.bind, self.server.port, timeout=10)
        try:
            connection.request(method, target)
            response = connection.getresponse()
            try:
                body = response.read()
            except http.client.IncompleteRead as short:
                body = short.partial
            return response.status, dict(response.getheaders()), body
        finally:
            connection.close()

    def states(self, name: str = NAME, settle: int = 0) -> list[str]:
        """The file's event states once `settle` of them came: the server reports a transfer
        after its last byte, so the client may read it first."""
        deadline = time.monotonic() + 5
        while True:
            states = [e.state for e in self.events if e.filename == name and e.state != "progress"]
            if len(states) >= settle or time.monotonic() > deadline:
                return states
            time.sleep(0.01)


def serve(root: Path, faults: FaultPlan | None = None, bind: str = "127.0.0.1") -> Iterator[Served]:
    events: list[Transfer] = []
    with HttpServer(root, bind=bind, faults=faults, on_event=events.append) as server:
        yield Served(server, events)


@pytest.fixture
def served(root: Path) -> Iterator[Served]:
    yield from serve(root)


def test_get_serves_the_exact_bytes_with_their_length(served: Served) -> None:
    status, headers, body = served.get(f"/{NAME}")
    assert status == 200 and body == DATA
    assert headers["Content-Length"] == str(len(DATA))
    assert served.states(settle=2) == ["started", "done"]
    done = served.events[-1]
    assert done.protocol == "http" and done.bytes == done.total == len(DATA)


def test_head_is_a_probe_without_a_body(served: Served) -> None:
    status, headers, body = served.get(f"/{NAME}", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(DATA))
    assert served.states(settle=1) == ["probe"]


def test_names_are_percent_decoded_and_queries_ignored(served: Served) -> None:
    status, _, body = served.get("/a%20b.txt?x=1")
    assert (status, body) == (200, b"spaced")
    assert requested_name("/a%20b.txt?x=1#f") == "a b.txt"


@pytest.mark.parametrize(
    ("target", "status"),
    [("/missing", 404), ("/escape", 403), ("/../secret", 403), ("/EFI/Linux", 404), ("/", 403)],
)
def test_names_outside_the_tree_are_refused(served: Served, target: str, status: int) -> None:
    assert served.get(target)[0] == status
    name = requested_name(target)
    assert served.states(name, settle=1)[-1] in ("refused", "failed")


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_writes_are_refused(served: Served, method: str, root: Path) -> None:
    status, headers, _ = served.get("/new-file", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert not (root / "new-file").exists()


def test_fail_first_answers_503_then_serves(root: Path) -> None:
    for served in serve(root, FaultPlan(fail_first={NAME: 2})):
        assert [served.get(f"/{NAME}")[0] for _ in range(3)] == [503, 503, 200]


def test_status_fault_answers_every_request(root: Path) -> None:
    for served in serve(root, FaultPlan(http_status={NAME: 404})):
        assert [served.get(f"/{NAME}")[0] for _ in range(2)] == [404, 404]
        served.states(settle=2)
        assert "status 404" in (served.events[-1].error or "")


def test_stop_after_sends_a_short_body(root: Path) -> None:
    for served in serve(root, FaultPlan(stop_after={NAME: 100_000})):
        status, headers, body = served.get(f"/{NAME}")
        assert status == 200 and headers["Content-Length"] == str(len(DATA))
        assert body == DATA[:100_000]
        assert served.states(settle=2) == ["started", "failed"]


def test_corrupt_flips_one_byte(root: Path) -> None:
    for served in serve(root, FaultPlan(corrupt={NAME: 700_000})):
        body = served.get(f"/{NAME}")[2]
        assert len(body) == len(DATA) and body[700_000] == DATA[700_000] ^ 0xFF
        assert body[:700_000] == DATA[:700_000] and body[700_001:] == DATA[700_001:]


def test_no_length_sends_the_body_until_close(root: Path) -> None:
    for served in serve(root, FaultPlan(no_length=[NAME])):
        status, headers, body = served.get(f"/{NAME}")
        assert status == 200 and "Content-Length" not in headers and body == DATA


def test_stall_after_holds_the_connection_silent(root: Path) -> None:
    for served in serve(root, FaultPlan(stall_after={NAME: 50_000})):
        with socket.create_connection((served.server.bind, served.server.port), timeout=2) as s:
            s.sendall(f"GET /{NAME} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = b""
            with pytest.raises(TimeoutError):
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            assert received.endswith(DATA[:50_000][-1000:])
        started = time.monotonic()
    # Stopping the server ends the stalled answer at once.
    assert time.monotonic() - started < 5


def test_trickle_after_sends_one_byte_at_a_time_after_the_first_bytes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workbench.lab.http.TRICKLE_SECONDS", 0.2)
    for served in serve(root, FaultPlan(trickle_after={NAME: 50_000})):
        with socket.create_connection((served.server.bind, served.server.port), timeout=2) as s:
            s.sendall(f"GET /{NAME} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = b""
            while not received.endswith(DATA[:50_000]):
                received += s.recv(65536)
            # Then single bytes, each within the client's timeout, each the next right one.
            started = time.monotonic()
            for offset in range(50_000, 50_003):
                assert s.recv(65536) == DATA[offset : offset + 1]
            assert 0.4 < time.monotonic() - started < 2
        started = time.monotonic()
    # Stopping the server ends the trickle at once.
    assert time.monotonic() - started < 5
    assert served.states(settle=2)[-1] == "failed"


def test_ipv6_loopback(root: Path) -> None:
    require(socket.has_ipv6, "IPv6 on loopback")
    for served in serve(root, bind="::1"):
        assert served.get(f"/{NAME}")[2] == DATA


def test_busy_port_is_a_clear_error(root: Path) -> None:
    with HttpServer(root) as first, pytest.raises(WorkbenchError, match="port already in use"):
        HttpServer(root, port=first.port).start()


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no such directory"):
        HttpServer(tmp_path / "nowhere")


def test_serve_http_command_logs_transfers(root: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "workbench.cli", "serve", "--http", str(root), "--port",
               str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"serving {root} read-only on http://127.0.0.1:{port}/")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/a%20b.txt")
        assert connection.getresponse().read() == b"spaced"
        lines = [process.stdout.readline() for _ in range(2)]
        assert "started  a b.txt" in lines[0] and "done     a b.txt 6/6 bytes" in lines[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--http", "--drop-every", "k=3"], "--drop-every is a fault of the other protocol's server"),
     (["--http-status", "k=404"], "--http-status is a fault of the other protocol's server")],
)  # fmt: skip
def test_serve_refuses_the_other_protocols_faults(
    root: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    assert main(["serve", str(root), *arguments]) == 2
    assert message in capsys.readouterr().err
