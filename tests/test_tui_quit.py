"""Quitting never drops unsaved edits: q, Ctrl+Q and Ctrl+C ask first (save, discard or stay),
and a closed terminal (SIGHUP) leaves the edits in a script that applies them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from workbench import contract
from workbench.pe.image import PeImage
from workbench.stubinfo import describe
from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs import ChoiceDialog
from workbench.tui.editing import Field
from workbench.tui.recovery import SUFFIX

QUIT_KEYS = ["q", "ctrl+q", "ctrl+c"]


def saved_cmdline(stub: Path) -> str | None:
    with PeImage.open(stub) as image:
        return describe(image).cmdline


@pytest.fixture
def stub(make_tree: Callable[..., Path]) -> Path:
    return make_tree() / contract.BOOT_PATH


async def edit_cmdline(pilot: Pilot, text: str = " quiet") -> None:
    """Type into the command line, then leave the field (Escape), so letters reach the app."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    await pilot.press("3")
    box = app.query_one(f"#edit-{Field.CMDLINE}", Input)
    assert app.focused is box
    await pilot.press("end", *text, "escape")
    assert app.session.is_dirty


def dialog_buttons(app: WorkbenchApp) -> list[str]:
    assert isinstance(app.screen, ChoiceDialog), app.screen
    return [str(button.label) for button in app.screen.query(Button)]


@pytest.mark.parametrize("key", QUIT_KEYS)
async def test_without_edits_quitting_is_immediate(stub: Path, key: str) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running


@pytest.mark.parametrize("key", QUIT_KEYS)
async def test_with_edits_quitting_asks_and_stay_keeps_everything(stub: Path, key: str) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await edit_cmdline(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert dialog_buttons(app) == ["Save and quit", "Quit without saving", "Stay"]
        assert "command line" in str(app.screen.query_one("#dialog-message", Static).content)
        await pilot.press("escape")  # Escape stays
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ChoiceDialog)
        await pilot.press(key)
        await pilot.pause()
        await pilot.click("#choice-cancel")  # the Stay button
        await pilot.pause()
        assert app.is_running and app.session.is_dirty
        assert app.session.values[Field.CMDLINE] == BASE_CMDLINE + " quiet"
    assert saved_cmdline(stub) == BASE_CMDLINE


async def test_ctrl_c_asks_even_while_typing_in_a_field(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await pilot.press("end", *" q", "ctrl+c")  # q is typed; Ctrl+C quits, so it asks
        await pilot.pause()
        assert app.session.values[Field.CMDLINE] == BASE_CMDLINE + " q"
        assert isinstance(app.screen, ChoiceDialog)


async def test_discard_quits_and_leaves_the_file_as_it_was(stub: Path) -> None:
    before = stub.read_bytes()
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await edit_cmdline(pilot)
        await pilot.press("q")
        await pilot.pause()
        await pilot.click("#choice-discard")
        await pilot.pause()
        assert not app.is_running
    assert stub.read_bytes() == before


async def test_save_and_quit_writes_the_edits_then_quits(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await edit_cmdline(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        await pilot.click("#choice-save")
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
        assert not app.is_running
    assert saved_cmdline(stub) == BASE_CMDLINE + " quiet"


async def test_edits_with_errors_can_only_be_dropped_or_kept(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        app.query_one(f"#edit-{Field.KERNEL_HASH}", Input).focus()
        await pilot.press("end", "z", "escape", "q")
        await pilot.pause()
        assert dialog_buttons(app) == ["Quit without saving", "Stay"]
        assert "errors" in str(app.screen.query_one("#dialog-message", Static).content)


async def test_a_hangup_keeps_the_edits_in_a_script_that_applies_them(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await edit_cmdline(pilot, " it's [x]")
        # The app took SIGHUP over; without that this signal would end the test run itself.
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
        assert not app.is_running
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL  # given back on the way out
    script = stub.with_name(stub.name + SUFFIX)
    assert app.recovery_file == script.resolve()
    assert saved_cmdline(stub) == BASE_CMDLINE  # nothing applied unasked
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=60)
    assert saved_cmdline(stub) == BASE_CMDLINE + " it's [x]"


async def test_a_hangup_without_edits_writes_nothing(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
        assert not app.is_running
    assert app.recovery_file is None
    assert not stub.with_name(stub.name + SUFFIX).exists()


def test_the_script_goes_to_a_name_of_its_own_when_the_stubs_directory_refuses_it(
    stub: Path,
) -> None:
    """No predictable name in a shared directory; a path with a newline cannot forge a line."""
    from workbench.tui.editing import EditSession
    from workbench.tui.recovery import write_recovery

    odd = stub.with_name("a\nexec false")
    stub.rename(odd)
    odd.with_name(odd.name + SUFFIX).mkdir()  # the usual place is taken by a directory
    with PeImage.open(odd) as image:
        session = EditSession.from_info(describe(image))
    session.set(Field.CMDLINE, BASE_CMDLINE + " quiet")
    script = write_recovery(odd, session, signed=False)
    assert script is not None and script.parent != odd.parent
    try:
        assert script.name.startswith(odd.name + ".") and script.name.endswith(SUFFIX)
        assert "\\x0aexec false" in script.read_text()  # the comment line stays one line
        # A forged line would run (`exec false, kept ...`) and fail before workbench set.
        subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=60)
        assert saved_cmdline(odd) == BASE_CMDLINE + " quiet"
    finally:
        script.unlink()
