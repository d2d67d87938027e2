"""Snapshots of each screen at 80x24 and 100x32.

The stub here is a tiny PE written by the test and the kernel/initrd are fixed bytes, so the
screens do not change when the real stub or the samples are rebuilt; the tree sits under a fixed
name in the working directory so every path on screen is short and stable.
Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from workbench import contract
from workbench.builder import build_tree
from workbench.tui.app import WorkbenchApp

SECTION_ALIGNMENT = 0x1000
FILE_ALIGNMENT = 0x200
HEADERS_SIZE = 0x400  # room for the sections the builder adds


def minimal_stub() -> bytes:
    """A PE32+ EFI application with a `.text` and the `.wbstub` marker: enough to be ours."""
    sections = [
        (b".text", b"\xc3" + bytes(15), 0x60000020),  # ret
        (contract.WB_MAGIC.encode(), b"stub-workbench 0.1.0", 0x40000040),
    ]
    optional_size = 112 + 16 * 8
    header = bytearray(HEADERS_SIZE)
    header[0:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x40)
    header[0x40:0x44] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", header, 0x44, 0x8664, len(sections), 0, 0, 0, optional_size, 0x22)
    optional = 0x58
    size_of_image = SECTION_ALIGNMENT * (1 + len(sections))
    struct.pack_into(
        "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
        header, optional,
        0x20B, 2, 0, FILE_ALIGNMENT, FILE_ALIGNMENT, 0, 0x1000, 0x1000, 0,
        SECTION_ALIGNMENT, FILE_ALIGNMENT, 0, 0, 0, 0, 0, 0, 0,
        size_of_image, HEADERS_SIZE, 0, 10, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
    )  # fmt: skip
    table = optional + optional_size
    body = bytearray()
    for index, (name, data, flags) in enumerate(sections):
        raw_offset = HEADERS_SIZE + len(body)
        struct.pack_into(
            "<8sIIIIIIHHI", header, table + 40 * index,
            name, len(data), SECTION_ALIGNMENT * (1 + index), FILE_ALIGNMENT, raw_offset,
            0, 0, 0, 0, flags,
        )  # fmt: skip
        body += data.ljust(FILE_ALIGNMENT, b"\0")
    return bytes(header + body)


@pytest.fixture
def snapshot_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "stub.efi").write_bytes(minimal_stub())
    (inputs / "vmlinuz").write_bytes(b"MZ" + b"kernel " * 4000)
    (inputs / "initrd.img").write_bytes(b"070701" + b"initrd " * 1000)
    build_tree(
        stub=inputs / "stub.efi",
        kernel=inputs / "vmlinuz",
        initrd=inputs / "initrd.img",
        cmdline="console=ttyS0 panic=-1 quiet",
        out_dir=tmp_path / "esp",
        policy={"error-delay": "1"},
    )
    monkeypatch.chdir(tmp_path)
    return Path("esp") / contract.BOOT_PATH


async def settle(pilot: Pilot) -> None:
    for box in pilot.app.query(Input):
        box.cursor_blink = False
    # Preview, Secure Boot readiness and PCR prediction come from workers: let them finish.
    await pilot.pause(0.4)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_overview(snap_compare, snapshot_stub: Path, size: tuple[int, int]) -> None:
    assert snap_compare(WorkbenchApp(snapshot_stub), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_sections_with_the_cmdline_selected(
    snap_compare, snapshot_stub: Path, size: tuple[int, int]
) -> None:
    async def select_cmdline(pilot: Pilot) -> None:
        await pilot.press("2")
        pilot.app.query_one("#sections-table").focus()
        names = [row.section.name for row in pilot.app.stub.rows]
        await pilot.press(*["down"] * names.index(contract.CMDLINE))
        await settle(pilot)

    assert snap_compare(WorkbenchApp(snapshot_stub), terminal_size=size, run_before=select_cmdline)


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_edit_with_errors(snap_compare, snapshot_stub: Path, size: tuple[int, int]) -> None:
    async def bad_edits(pilot: Pilot) -> None:
        await pilot.press("3")
        pilot.app.query_one("#edit-kernel_hash").focus()
        await pilot.press("end", "backspace", "z")
        pilot.app.query_one("#edit-initrd_path").focus()
        await pilot.press("home", "delete", *"..\\")
        pilot.app.query_one("#edit-cmdline").focus()
        await pilot.press("end", *" loglevel=7")
        await settle(pilot)

    assert snap_compare(WorkbenchApp(snapshot_stub), terminal_size=size, run_before=bad_edits)


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_preview(snap_compare, snapshot_stub: Path, size: tuple[int, int]) -> None:
    assert snap_compare(
        WorkbenchApp(snapshot_stub), press=["4"], terminal_size=size, run_before=settle
    )


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_boot_before_a_run(snap_compare, snapshot_stub: Path, size: tuple[int, int]) -> None:
    assert snap_compare(
        WorkbenchApp(snapshot_stub), press=["5"], terminal_size=size, run_before=settle
    )


def test_debug_before_a_run(snap_compare, snapshot_stub: Path) -> None:
    assert snap_compare(
        WorkbenchApp(snapshot_stub), press=["8"], terminal_size=(100, 32), run_before=settle
    )


def test_help(snap_compare, snapshot_stub: Path) -> None:
    assert snap_compare(
        WorkbenchApp(snapshot_stub),
        press=["question_mark"],
        terminal_size=(80, 24),
        run_before=settle,
    )


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_boot_after_a_netboot(snap_compare, snapshot_stub: Path, size: tuple[int, int]) -> None:
    """The boot screen fed a recorded event sequence with fixed times (no QEMU here: the real
    boots are in test_tui_boot.py)."""
    from workbench.lab.console import parse_stub_line
    from workbench.lab.events import LabNote, Outcome, SerialLine, Transfer
    from workbench.tui.boot_pane import BootPane

    lines = [
        "stub: source=net server=10.0.2.2",
        r"stub: loading kernel path=\EFI\Linux\vmlinuz from=tftp://10.0.2.2/EFI/Linux/vmlinuz",
        r"stub: loaded kernel path=\EFI\Linux\vmlinuz bytes=28002 sha256=ok",
        "stub: starting kernel",
    ]
    events: list = [LabNote("qemu started", t=0.5)]
    for index, line in enumerate(lines):
        step = parse_stub_line(line)
        assert step is not None
        step.t = 8.0 + index
        events += [SerialLine(line, t=step.t), step]
    events += [
        Transfer("EFI/Linux/vmlinuz", "10.0.2.41", "progress", 14000, 28002, 1.0, t=9.2),
        Transfer("EFI/Linux/vmlinuz", "10.0.2.41", "done", 28002, 28002, 2.0, t=10.1),
        SerialLine("WORKBENCH-SAMPLE-OK cmdline=console=ttyS0 panic=-1 quiet", t=12.0),
        Outcome(True, "booted", "saw 'WORKBENCH-SAMPLE-OK'", 12.0, t=12.0),
    ]

    async def replay(pilot: Pilot) -> None:
        await pilot.press("5")
        pane = pilot.app.query_one(BootPane)
        pane.start("netboot of esp: the saved stub")
        for event in events:
            pane.post_message(BootPane.RunEvent(event))
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(WorkbenchApp(snapshot_stub), terminal_size=size, run_before=replay)
