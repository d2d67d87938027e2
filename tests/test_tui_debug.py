"""The Debug tab: a real boot under GDB/MI, driven with keys (break, next, finish, continue)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_tool
from rich.text import Text
from textual.widgets import DataTable, Input, Static
from tui_support import descendants, wait_until

from workbench import contract
from workbench.gdb_mi import Frame, Stopped
from workbench.tui.app import WorkbenchApp
from workbench.tui.debug_pane import DebugPane, source_excerpt


def test_the_source_excerpt_marks_the_current_line() -> None:
    lines = [f"line {number}" for number in range(1, 41)]
    text = source_excerpt(lines, 20, context=2)
    assert text.plain.splitlines() == [
        "    18  line 18",
        "    19  line 19",
        "▶   20  line 20",
        "    21  line 21",
        "    22  line 22",
    ]
    # The top of a file: no line 0, nothing before line 1.
    assert source_excerpt(lines, 1, context=1).plain.splitlines()[0] == "▶    1  line 1"


def _stopped_in(pane: DebugPane, function: str) -> bool:
    view = pane.view
    return (
        pane.state == "stopped"
        and view is not None
        and view.stop.frame is not None
        and view.stop.frame.function == function
    )


def _frame(pane: DebugPane) -> Frame:
    assert pane.view is not None and pane.view.stop.frame is not None
    return pane.view.stop.frame


@pytest.mark.boot
@pytest.mark.timeout(300)
async def test_debug_tab_breaks_steps_finishes_and_boots(make_tree: Callable[..., Path]) -> None:
    for tool in ("gdb", "qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, expect=contract.SAMPLE_MARKER, boot_timeout=200)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("G")
        pane = app.query_one(DebugPane)
        assert pane.banner_text.startswith("STARTING")
        # Handed over stopped, before the stub goes on: a breakpoint by name, then continue.
        await wait_until(pilot, lambda: pane.state == "stopped" and pane.view is not None, 150)
        functions = [frame.function for frame in pane.view.frames] if pane.view else []
        assert functions[:2] == ["boot", "efi_main"], functions
        field = app.query_one("#debug-break", Input)
        field.focus()
        await pilot.press(*"local_read", "enter")
        await pilot.pause(1.0)
        app.query_one("#debug-stack", DataTable).focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: _stopped_in(pane, "local_read"), 60)
        first = _frame(pane)
        assert first.file == "src/local.c" and first.line is not None
        stack = [frame.function for frame in pane.view.frames] if pane.view else []
        assert stack[:2] == ["local_read", "fetch"] and "efi_main" in stack, stack
        names = [variable.name for variable in pane.view.variables] if pane.view else []
        assert "path" in names and "device" in names, names
        source = app.query_one("#debug-source", Static).content
        assert isinstance(source, Text) and f"▶{first.line:5d}" in source.plain
        # next: the same function, a later line.
        await pilot.press("n")
        await wait_until(
            pilot, lambda: _stopped_in(pane, "local_read") and _frame(pane).line != first.line, 60
        )
        assert pane.view is not None and pane.view.stop.reason == "end-stepping-range"
        # finish: back in the caller.
        await pilot.press("f")
        await wait_until(pilot, lambda: _stopped_in(pane, "fetch"), 60)
        assert pane.view is not None and pane.view.stop.reason == "function-finished"
        # The initrd is the second local_read; then the kernel starts.
        await pilot.press("c")
        await wait_until(pilot, lambda: _stopped_in(pane, "local_read"), 60)
        await pilot.press("c")
        await wait_until(pilot, lambda: pane.state == "ended", 120)
        assert pane.banner_text.startswith("ENDED  BOOTED"), pane.banner_text
        console = "\n".join(strip.text for strip in pane.query_one("#debug-console").lines)
        assert contract.SAMPLE_MARKER in console
        assert pane.stub_lines[-1] == "stub: starting kernel", pane.stub_lines
    assert not [name for name in descendants() if name.startswith(("qemu", "gdb"))]


def test_a_stop_before_the_session_is_ignored() -> None:
    # GDB's own stop while it connects comes before the stub is released: nothing to show.
    pane = DebugPane()
    pane.on_debug_pane_note(DebugPane.Note(Stopped("signal-received", None)))
    assert pane.state == "idle"
