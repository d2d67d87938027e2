"""Every way a run ends leaves no process, temporary file, namespace or tap device behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from lab_support import PID_NOTE, Recorder, assert_nothing_left

from workbench.errors import WorkbenchError
from workbench.lab.boot import BootRequest, BootRun, boot
from workbench.lab.events import Event, LabNote, StubStep, Transfer

pytestmark = [pytest.mark.boot, pytest.mark.timeout(120)]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs put their scratch directories here, so the test can see them go."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def stop_when(
    request: BootRequest, condition: Callable[[Event], bool]
) -> tuple[BootRun, Recorder, float, threading.Thread, list]:
    """Run in a worker thread; stop() from this thread once `condition` holds for an event."""
    recorder = Recorder()
    seen = threading.Event()

    def on_event(event: Event) -> None:
        recorder(event)
        if condition(event):
            seen.set()

    run = BootRun(request, on_event)
    result: list = []

    def work() -> None:
        try:
            result.append(run.run())
        except BaseException as error:  # surfaced by the assertion below
            result.append(error)
            seen.set()

    worker = threading.Thread(target=work)
    worker.start()
    assert seen.wait(90), f"the condition never held: {recorder.events[-5:]}"
    assert not (result and isinstance(result[0], BaseException)), result
    stopped_at = time.monotonic()
    run.stop()
    worker.join(30)
    return run, recorder, stopped_at, worker, result


def test_stop_during_a_local_boot(make_tree: Callable[..., Path], private_tmp: Path) -> None:
    require_tool("qemu-system-x86_64")
    request = BootRequest(root=make_tree(), mode="local", expect="never printed", timeout=100)
    _, recorder, stopped_at, worker, result = stop_when(request, lambda e: isinstance(e, StubStep))
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 10
    assert result[0].kind == "interrupted"
    assert recorder.events[-1] == result[0]
    assert_nothing_left(recorder)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.net
def test_stop_during_a_netboot(make_tree: Callable[..., Path], private_tmp: Path) -> None:
    for tool in ("qemu-system-x86_64", "unshare", "ip", "dnsmasq"):
        require_tool(tool)
    request = BootRequest(root=make_tree(), mode="net", expect="never printed", timeout=100)
    _, recorder, stopped_at, worker, result = stop_when(
        request, lambda e: isinstance(e, Transfer) and e.state == "started"
    )
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 10
    assert result[0].kind == "interrupted"
    assert recorder.netns is not None
    assert_nothing_left(recorder)
    assert list(private_tmp.iterdir()) == []


def test_timeout_ends_the_run(tmp_path: Path, private_tmp: Path) -> None:
    require_tool("qemu-system-x86_64")
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    # Not a PE image: the firmware refuses it and never powers off.
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"not an EFI application")
    recorder = Recorder()
    started = time.monotonic()
    outcome = boot(BootRequest(root=root, mode="local", timeout=5), recorder)
    assert outcome.kind == "timeout"
    assert not outcome.ok
    assert 5 <= time.monotonic() - started < 15
    assert_nothing_left(recorder)
    assert list(private_tmp.iterdir()) == []


def test_qemu_that_cannot_start_is_qemu_failed(tmp_path: Path, private_tmp: Path) -> None:
    require_tool("qemu-system-x86_64")
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ")
    bogus_vars = tmp_path / "vars.fd"
    bogus_vars.write_bytes(b"too small for a flash device")
    recorder = Recorder()
    outcome = boot(
        BootRequest(root=root, mode="local", timeout=30, vars_template=bogus_vars), recorder
    )
    assert outcome.kind == "qemu-failed"
    assert outcome.reason.startswith("qemu: ")
    assert "\n" not in outcome.reason
    assert_nothing_left(recorder)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "no such directory"),
        (lambda root: root.mkdir(), "no EFI/BOOT/BOOTX64.EFI"),
    ],
)
def test_bad_requests_raise_before_anything_starts(
    tmp_path: Path, setup: Callable[[Path], None], message: str
) -> None:
    root = tmp_path / "root"
    setup(root)
    events: list[Event] = []
    with pytest.raises(WorkbenchError, match=message):
        boot(BootRequest(root=root, mode="local"), events.append)
    assert events == []


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())",
         *arguments],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("boot", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"workbench: error: {tmp_path / 'missing'}: no such directory"
    ]


def test_cli_json_streams_events_then_the_outcome(tmp_path: Path) -> None:
    require_tool("qemu-system-x86_64")
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"not an EFI application")
    log = tmp_path / "serial.log"
    result = run_cli("boot", str(root), "--json", "--timeout", "8", "--log", str(log))
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["type"] == "Outcome"
    assert lines[-1]["kind"] == "timeout"
    assert any(line["type"] == "SerialLine" for line in lines)
    assert all(isinstance(line["t"], float | int) for line in lines)
    serial = [line["text"] for line in lines if line["type"] == "SerialLine"]
    assert log.read_text().splitlines()[: len(serial)] == serial
    assert not any(line["type"] == LabNote.__name__ and "failed" in line["text"] for line in lines)
    pids = [int(match.group(1)) for line in lines
            if (match := PID_NOTE.search(line.get("text", "")))]  # fmt: skip
    assert pids and not any(os.path.exists(f"/proc/{pid}") for pid in pids)


def test_cli_ctrl_c_interrupts_and_cleans_up(make_tree: Callable[..., Path]) -> None:
    require_tool("qemu-system-x86_64")
    process = subprocess.Popen(
        [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())",
         "boot", str(make_tree()), "--expect", "never printed"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        # Test runners may ignore SIGINT, and children inherit that: give it back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("stub: "):
                process.send_signal(signal.SIGINT)
                break
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    lines += rest.splitlines()
    assert process.returncode == 1
    assert lines[-1].startswith("outcome: FAILED: interrupted")
    pids = [int(match.group(1)) for line in lines if (match := PID_NOTE.search(line))]
    assert pids and not any(os.path.exists(f"/proc/{pid}") for pid in pids)


def test_unwritable_log_is_bad_input(tmp_path: Path, private_tmp: Path) -> None:
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ")
    request = BootRequest(root=root, mode="local", log=tmp_path / "no" / "such" / "dir.log")
    with pytest.raises(WorkbenchError, match="cannot write the log"):
        boot(request)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--corrupt", "EFI/Linux/initrd.img=5"], "faults need --mode net or --mode http"),
        (
            ["--mode", "net", "--http-status", "EFI/Linux/vmlinuz=404"],
            "--http-status is a fault of --mode http, not --mode net",
        ),
        (
            ["--mode", "http", "--drop-every", "EFI/Linux/vmlinuz=3"],
            "--drop-every is a fault of --mode net, not --mode http",
        ),
        (["--mode", "http", "--http-status", "EFI/Linux/vmlinuz=99"], "not an HTTP status"),
        (["--ipv6"], "--ipv6 needs --mode net or --mode http"),
        (["--mode", "http", "--tftp-server", "atftpd"], "needs --mode net"),
        (["--mode", "net", "--ipv6", "--tftp-server", "dnsmasq"], "IPv4 only"),
        (["--mode", "net", "--stop-after", "EFI/Linux/vmlinuz"], "expected NAME=NUMBER"),
        (["--mode", "net", "--fail-first", "EFI/Linux/vmlinuz=-1"], "must not be negative"),
    ],
)
def test_cli_bad_fault_options_exit_2(tmp_path: Path, arguments: list[str], message: str) -> None:
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ")
    result = run_cli("boot", str(root), *arguments)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
