"""The Guests tab: `n` with --guests 2 netboots two machines at once, shown side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_tool
from tui_support import descendants, wait_until

from workbench import contract
from workbench.lab.events import Outcome, SerialLine, StubStep
from workbench.tui.app import WorkbenchApp
from workbench.tui.guests_pane import GuestsPane


async def test_events_go_to_their_guests_column(make_tree: Callable[..., Path]) -> None:
    app = WorkbenchApp(make_tree() / contract.BOOT_PATH, guests=3)
    async with app.run_test(size=(150, 40)) as pilot:
        app.query_one("#tabs").active = "guests"
        await pilot.pause()
        pane = app.query_one(GuestsPane)
        step = StubStep("loaded", "kernel", {}, None, None, "stub: loaded kernel", guest=1)
        for event in (
            SerialLine("hello \x1b[2J", guest=2),
            step,
            Outcome(ok=False, kind="stub-error", reason="sha256", seconds=3, guest=0),
        ):
            pane.post_message(GuestsPane.RunEvent(event))  # fmt: skip
        await pilot.pause(0.3)  # RichLog writes once it knows its size
        first, second, third = pane.columns
        assert first.banner_text.startswith("g0: STUB ERROR after 3.0 s: sha256")
        assert first.has_class("-failed")
        assert second.steps == ["loaded kernel"] and second.banner_text == "g1: loaded kernel"
        lines = [strip.text for strip in third.query_one(".guest-serial").lines]
        assert lines == ["hello \\x1b[2J"]  # the console cannot drive the terminal


@pytest.mark.boot
@pytest.mark.timeout(300)
async def test_two_guests_netboot_side_by_side(make_tree: Callable[..., Path]) -> None:
    for tool in ("qemu-system-x86_64", "dnsmasq", "unshare"):
        require_tool(tool)
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, expect=contract.SAMPLE_MARKER,
                       boot_timeout=200, guests=2)  # fmt: skip
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.press("n")
        pane = app.query_one(GuestsPane)
        assert app.query_one("#tabs").active == "guests"
        assert pane.banner_text.startswith("RUNNING")
        await wait_until(pilot, lambda: pane.summary is not None, 240)
        assert pane.summary is not None and pane.summary.ok, pane.banner_text
        for column in pane.columns:
            assert column.has_class("-ok"), column.banner_text
            assert column.banner_text.startswith(f"g{column.index}: BOOTED")
            serial = "\n".join(strip.text for strip in column.query_one(".guest-serial").lines)
            assert contract.SAMPLE_MARKER in serial
            assert any(step.startswith("loaded kernel") for step in column.steps)
        assert pane.banner_text.startswith("BOOTED")
    assert not [name for name in descendants() if "qemu" in name]
