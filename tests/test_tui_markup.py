"""Names from a stub, a server or a console are shown as they are, never read as markup:
`EFI/[x]/vmlinuz` is a file name FORMAT.md allows, and `[/]` or `[bold` once crashed the app
(MarkupError) or vanished from the screen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE
from textual.widgets import Label, RichLog
from tui_support import settled

from workbench import contract
from workbench.builder import build_tree
from workbench.lab.console import parse_stub_line
from workbench.lab.events import Event, LabNote, Outcome, SerialLine, Transfer
from workbench.pe.edit import rewrite_sections
from workbench.tui.app import WorkbenchApp
from workbench.tui.boot_pane import BootPane, TransferRow
from workbench.tui.overview import OverviewPane
from workbench.tui.preview_pane import PreviewPane
from workbench.tui.sections import SectionsPane

KERNEL_PATH = "\\EFI\\[x]\\vmlinuz"
PRETTY = "[bold]Distro[/] [x"
ODD_SECTIONS = {"[x]": b"one", "[/]": b"two", "[bold": b"three"}
CMDLINE = BASE_CMDLINE + " wb.note=[/]"


@pytest.fixture
def odd_tree(tmp_path: Path, stub_efi: Path, sample_kernel: Path, sample_initrd: Path) -> Path:
    """A tree under a bracketed name whose stub names `\\EFI\\[x]\\vmlinuz`, with an os-release
    and section names full of brackets."""
    root = tmp_path / "esp[x][/]"
    build_tree(stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd, cmdline=CMDLINE,
               out_dir=root, policy={"error-delay": "1"})  # fmt: skip
    (root / "EFI" / "[x]").mkdir()
    shutil.move(root / "EFI/Linux/vmlinuz", root / "EFI/[x]/vmlinuz")
    osrel = f'ID=odd\nPRETTY_NAME="{PRETTY}"\n'.encode()
    changes = {contract.KERNEL: KERNEL_PATH.encode(), contract.OSREL: osrel, **ODD_SECTIONS}
    rewrite_sections(root / contract.BOOT_PATH, changes)
    return root


async def test_stub_names_show_as_they_are(odd_tree: Path) -> None:
    app = WorkbenchApp(odd_tree / contract.BOOT_PATH)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        overview = app.query_one(OverviewPane).text
        assert "esp[x][/]" in overview  # File and Root
        assert KERNEL_PATH in overview and PRETTY in overview and CMDLINE in overview
        await pilot.press("2")
        await pilot.pause()
        table = app.query_one("#sections-table")
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]  # type: ignore[attr-defined]
        assert set(ODD_SECTIONS) <= set(names)
        pane = app.query_one(SectionsPane)
        assert pane.select("[bold") and pane.detail_text.startswith("[bold  text")
        await pilot.press("4")
        await pilot.pause()
        preview = app.query_one(PreviewPane).text
        assert KERNEL_PATH in preview and "esp[x][/]" in preview
        assert "not found" not in preview.split("IPv6")[0]  # the kernel is where it says
        app.notify("Cannot read EFI/[x]/vmlinuz [/]", severity="error")
        await pilot.pause()


async def test_boot_events_with_brackets_show_as_they_are(odd_tree: Path) -> None:
    name = "EFI/[x]/vmlinuz"
    line = f"stub: loading kernel path={KERNEL_PATH} from=tftp://10.0.2.2/{name}"
    step = parse_stub_line(line)
    assert step is not None
    events: list[Event] = [
        LabNote("[/] qemu [bold started", t=0.5),
        SerialLine(line, t=1.0),
        step,
        SerialLine("[bold]console[/] [x]", t=1.5),
        Transfer(name, "10.0.2.15", "progress", 100, 1000, 0.5, t=2.0),
        Transfer(name, "10.0.2.15", "done", 1000, 1000, 1.0, t=2.5),
        Transfer("[/]", "10.0.2.15", "failed", 0, None, 0.1, error="[bold] no [/]", t=3.0),
        Outcome(False, "stub-error", "stub: error [/] in EFI/[x]/vmlinuz", 3.5, t=3.5),
    ]
    app = WorkbenchApp(odd_tree / contract.BOOT_PATH)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        pane = app.query_one(BootPane)
        pane.start("netboot of esp[x][/]: the saved stub")
        for event in events:
            pane.post_message(BootPane.RunEvent(event))
        await pilot.pause()
        await pilot.pause()  # the rows are drawn: markup would raise here
        steps = pane.timeline_steps
        assert steps[0] == "[/] qemu [bold started"
        assert any(KERNEL_PATH in text for text in steps)
        rows = {row.filename: row for row in pane.query(TransferRow)}
        assert set(rows) == {name, "[/]"}
        for filename, row in rows.items():
            label = row.query(Label).first()
            assert str(label.render()) == filename
        assert "[bold] no [/]" in str(rows["[/]"].query(Label).last().render())
        log = app.query_one("#boot-serial", RichLog)
        shown = ["".join(segment.text for segment in strip) for strip in log.lines]
        assert any("[bold]console[/] [x]" in text for text in shown)
        assert "stub: error [/] in EFI/[x]/vmlinuz" in pane.banner_text
