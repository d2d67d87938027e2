"""The workbench app driven through Textual's pilot, on real trees built by `make_tree`."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, TabbedContent
from tui_support import settled

from workbench import contract
from workbench.pe.image import PeImage
from workbench.stubinfo import describe
from workbench.tui.app import WorkbenchApp
from workbench.tui.editing import Field
from workbench.tui.overview import OverviewPane
from workbench.tui.preview_pane import PreviewPane
from workbench.tui.sections import SectionsPane

SIZES = [(100, 32), (80, 24)]


def stub_of(root: Path) -> Path:
    return root / contract.BOOT_PATH


def saved_cmdline(stub: Path) -> str | None:
    with PeImage.open(stub) as image:
        return describe(image).cmdline


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.1)


async def replace_text(pilot: Pilot, name: Field, text: str) -> Input:
    """Focus a field, clear it with keys, and type the text, like a user."""
    box = pilot.app.query_one(f"#edit-{name}", Input)
    box.focus()
    await pilot.press("end", "ctrl+u")
    await pilot.press(*text) if text else None
    await pilot.pause()
    return box


def error_text(app: WorkbenchApp, name: Field) -> str:
    return str(app.query_one(f"#error-{name}").content)


@pytest.fixture
def tree(make_tree: Callable[..., Path]) -> Path:
    return make_tree()


@pytest.mark.parametrize("size", SIZES)
async def test_open_shows_the_overview(tree: Path, size: tuple[int, int]) -> None:
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        text = app.query_one(OverviewPane).text
        assert "workbench-thin" in text
        assert BASE_CMDLINE in text
        assert r"\EFI\Linux\vmlinuz" in text
        assert "not signed" in text
        assert "(the stub's own tree)" in text
        assert "Warnings" in text and "none" in text.split("Warnings", 1)[1]
        assert app.root == tree.resolve()


async def test_overview_warns_when_a_file_under_root_is_missing(tree: Path) -> None:
    (tree / "EFI" / "Linux" / "initrd.img").unlink()
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=(100, 32)) as pilot:
        await settled(pilot)
        text = app.query_one(OverviewPane).text
        assert r"! local: initrd \EFI\Linux\initrd.img: file not found" in text
        assert "! netboot: initrd tftp://10.0.2.2/EFI/Linux/initrd.img: TFTP error" in text


@pytest.mark.parametrize("size", SIZES)
async def test_selecting_a_section_shows_its_value(tree: Path, size: tuple[int, int]) -> None:
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        assert app.query_one(TabbedContent).active == "sections"
        table = app.query_one("#sections-table", DataTable)
        table.focus()
        names = [row.section.name for row in app.stub.rows]
        assert names[-1] == contract.KERNEL and contract.CMDLINE in names
        await pilot.press("ctrl+home", *["down"] * names.index(contract.CMDLINE))
        pane = app.query_one(SectionsPane)
        assert pane.detail_text.startswith(".cmdline  text")
        assert BASE_CMDLINE in pane.detail_text
        # A hash section shows as a digest, a binary one as a hex dump.
        await pilot.press("ctrl+home", *["down"] * names.index(contract.KERNEL_HASH))
        digest = hashlib.sha256((tree / "EFI/Linux/vmlinuz").read_bytes()).hexdigest()
        assert ".linuxh  sha256" in pane.detail_text and digest in pane.detail_text
        await pilot.press("ctrl+home")
        assert "00000000  " in pane.detail_text


async def test_edit_cmdline_then_save_changes_the_file(tree: Path) -> None:
    stub = stub_of(tree)
    app = WorkbenchApp(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        box = await replace_text(pilot, Field.CMDLINE, "console=ttyS0 quiet")
        assert box.has_class("-dirty")
        await settled(pilot)  # the overview follows once typing pauses
        assert "1 unsaved: command line" in app.query_one(OverviewPane).text
        assert saved_cmdline(stub) == BASE_CMDLINE  # nothing written yet
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not app.session.is_dirty, 10)
        assert "Saved" in str(app.query_one("#edit-status").content)
    assert saved_cmdline(stub) == "console=ttyS0 quiet"
    # Re-opening shows the saved value.
    app = WorkbenchApp(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "console=ttyS0 quiet" in app.query_one(OverviewPane).text


async def test_bad_hash_and_bad_path_are_refused_as_you_type(tree: Path) -> None:
    stub = stub_of(tree)
    before = stub.read_bytes()
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        box = await replace_text(pilot, Field.KERNEL_HASH, "abc")
        assert "3 hex digits; a SHA-256 has 64" in error_text(app, Field.KERNEL_HASH)
        assert box.has_class("-invalid")
        await pilot.press("x", "y")
        assert "not a hex digit at position 4: 'x'" in error_text(app, Field.KERNEL_HASH)
        await replace_text(pilot, Field.INITRD_PATH, r"\EFI\..\initrd.img")
        assert ".." in error_text(app, Field.INITRD_PATH)
        assert app.query_one("#edit-save", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Not saved" in str(app.query_one("#edit-status").content)
        # Fixing the hash clears its error; the path error stays.
        await replace_text(pilot, Field.KERNEL_HASH, "ab" * 32)
        assert error_text(app, Field.KERNEL_HASH) == ""
        assert error_text(app, Field.INITRD_PATH) != ""
    assert stub.read_bytes() == before


async def test_undo_reverts_unsaved_edits_step_by_step(tree: Path) -> None:
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await replace_text(pilot, Field.CMDLINE, "one")
        await replace_text(pilot, Field.KERNEL_PATH, r"\EFI\Linux\other")
        await pilot.press("ctrl+z")
        kernel_box = app.query_one(f"#edit-{Field.KERNEL_PATH}", Input)
        assert kernel_box.value == r"\EFI\Linux\vmlinuz"
        assert app.session.values[Field.CMDLINE] == "one"
        await pilot.press("ctrl+z")
        assert app.query_one(f"#edit-{Field.CMDLINE}", Input).value == BASE_CMDLINE
        assert not app.session.is_dirty
        assert app.query_one("#edit-undo", Button).disabled


async def test_failed_save_leaves_the_file_untouched(tree: Path) -> None:
    stub = stub_of(tree)
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await replace_text(pilot, Field.CMDLINE, "console=ttyS0 changed")
        # The file changes under the app into something the editor must refuse.
        damaged = stub.read_bytes()[:300]
        replacement = stub.with_name("replacement")
        replacement.write_bytes(damaged)
        replacement.replace(stub)
        await pilot.press("ctrl+s")
        status = app.query_one("#edit-status")
        await wait_until(pilot, lambda: "Not saved" in str(status.content), 10)
        assert app.session.is_dirty
    assert stub.read_bytes() == damaged
    assert not [p for p in stub.parent.iterdir() if p.name != stub.name]


async def test_rehash_from_root_then_save_fixes_the_mismatch(tree: Path) -> None:
    stub = stub_of(tree)
    kernel = tree / "EFI" / "Linux" / "vmlinuz"
    kernel.write_bytes(kernel.read_bytes() + b"rebuilt")
    expected = hashlib.sha256(kernel.read_bytes()).hexdigest()
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await settled(pilot)
        assert "sha256 mismatch" in app.query_one(OverviewPane).text
        await pilot.press("3", "ctrl+r")
        await settled(pilot)  # the hashing runs in a worker
        assert app.query_one(f"#edit-{Field.KERNEL_HASH}", Input).value == expected
        assert "1 hash(es) changed" in str(app.query_one("#edit-status").content)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not app.session.is_dirty, 10)
        await settled(pilot)
        assert re.search(r"Warnings +none", app.query_one(OverviewPane).text)
    with PeImage.open(stub) as image:
        assert describe(image).kernel.expected_sha256 == expected


@pytest.mark.parametrize("size", SIZES)
async def test_preview_shows_every_transport(tree: Path, size: tuple[int, int]) -> None:
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        await pilot.press("4")
        text = app.query_one(PreviewPane).text
        for title in (
            "Local ESP",
            "PXE + TFTP",
            "HTTP Boot",
            "PXE + TFTP, IPv6",
            "HTTP Boot, IPv6",
        ):
            assert title in text
        assert r"\EFI\Linux\vmlinuz" in text
        assert "tftp://10.0.2.2/EFI/Linux/vmlinuz" in text
        assert "http://10.0.2.2/EFI/Linux/vmlinuz" in text
        assert "tftp://[fd00::2]/EFI/Linux/vmlinuz" in text
        assert text.count("→ boots") == 5
        # An edit that breaks the path shows in the preview before it is saved.
        await pilot.press("3")
        await replace_text(pilot, Field.KERNEL_PATH, r"\EFI\Linux\missing")
        pane = app.query_one(PreviewPane)
        await wait_until(pilot, lambda: "With the unsaved edits" in pane.text, 5)
        text = pane.text
        assert "With the unsaved edits" in text
        assert text.count("→ fails") == 5


async def test_help_screen_opens_and_closes(tree: Path) -> None:
    app = WorkbenchApp(stub_of(tree))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ == "Screen"


def test_open_command_refuses_a_bad_file_in_one_line(tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    bad = tmp_path / "not-a-stub.efi"
    bad.write_bytes(b"hello")
    assert main(["open", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a PE file" in err
