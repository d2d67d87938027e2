"""A boot that runs out of time says where it stood: the stub's last line, the transfers in
flight as the server last reported them, and the console's last line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_tool
from lab_support import Recorder, assert_nothing_left

from workbench.lab.boot import BootRequest, BootRun, _Progress, boot
from workbench.lab.events import SerialLine, Transfer


def _watch(events: list[object], timeout: float) -> object:
    """The run's own watcher over these events, as they would arrive from a lab."""
    run = BootRun(
        BootRequest(root=Path("/nonexistent"), mode="net", expect="NEVER", timeout=timeout)
    )
    for event in events:
        run._queue.put(event)
    return run._watch(_Progress(started=run._started))


def test_a_timeout_names_the_stub_line_and_the_transfer_in_flight() -> None:
    outcome = _watch(
        [
            SerialLine(
                "stub: source=http server=10.0.2.2 url=http://10.0.2.2/EFI/BOOT/BOOTX64.EFI"
            ),
            SerialLine("stub: loading initrd path=\\EFI\\Linux\\initrd.img from=http://10.0.2.2/i"),
            Transfer("EFI/Linux/vmlinuz", "10.0.2.15", "started", protocol="http"),
            Transfer("EFI/Linux/vmlinuz", "10.0.2.15", "done", 14, 14, protocol="http"),
            Transfer(
                "EFI/Linux/initrd.img", "10.0.2.15", "started", total=33554432, protocol="http"
            ),
            Transfer(
                "EFI/Linux/initrd.img", "10.0.2.15", "progress", 1048576, 33554432, protocol="http"
            ),
        ],
        timeout=0.5,
    )
    assert outcome.kind == "timeout"
    assert "'NEVER' not reached in 0.5s" in outcome.reason
    assert "the stub's last line: 'stub: loading initrd path=" in outcome.reason
    assert (
        "in flight: 'EFI/Linux/initrd.img' over http to 10.0.2.15, 1048576 of 33554432 bytes"
        in outcome.reason
    )
    assert "vmlinuz" not in outcome.reason, "a finished transfer is not in flight"
    assert outcome.where is not None
    assert [t["filename"] for t in outcome.where["in_flight"]] == ["EFI/Linux/initrd.img"]
    assert outcome.to_dict()["where"]["stub"].startswith("stub: loading initrd")


def test_a_timeout_before_the_stub_names_the_console_line() -> None:
    outcome = _watch(
        [SerialLine('BdsDxe: loading Boot0001 "UEFI PXEv4"'), SerialLine("")], timeout=0.3
    )
    assert outcome.kind == "timeout"
    assert "the stub printed nothing" in outcome.reason
    assert "the console's last line: 'BdsDxe: loading Boot0001 \"UEFI PXEv4\"'" in outcome.reason
    assert outcome.where == {"stub": None, "console": ['BdsDxe: loading Boot0001 "UEFI PXEv4"'],
                             "in_flight": []}  # fmt: skip


def test_names_in_the_reason_cannot_forge_lines() -> None:
    outcome = _watch(
        [Transfer("EFI/x\nstub: starting kernel", "10.0.2.15", "started", protocol="tftp")],
        timeout=0.3,
    )
    assert "\n" not in outcome.reason
    assert "'EFI/x\\nstub: starting kernel'" in outcome.reason


@pytest.mark.boot
@pytest.mark.timeout(120)
def test_a_real_boot_that_runs_out_of_time_says_where_it_stood(make_tree) -> None:
    """A real local boot cut short: the reason carries what the run had seen by then."""
    for tool in ("qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)
    recorder = Recorder()
    outcome = boot(
        BootRequest(root=make_tree(), mode="local", expect="NEVER-PRINTED", timeout=3), recorder
    )
    assert_nothing_left(recorder)
    assert outcome.kind == "timeout", outcome
    assert outcome.where is not None
    stub_lines = [line for line in recorder.serial().splitlines() if line.startswith("stub: ")]
    if stub_lines:
        assert f"the stub's last line: {stub_lines[-1]!r}" in outcome.reason
    else:
        assert "the stub printed nothing" in outcome.reason
    # The sample boots in about 7 s; 3 s cuts it short in the firmware or the stub.
    console = [line.strip() for line in recorder.serial().splitlines() if line.strip()]
    assert outcome.where["console"] == console[-3:]
