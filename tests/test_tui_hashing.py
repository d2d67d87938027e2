"""Opening a stub hashes nothing on the UI thread: the app paints at once, shows "hashing…"
where a digest is not known yet, and fills it in from a worker. `inspect` still hashes."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_support import settled

from workbench import contract
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.stubinfo import describe
from workbench.tui import app as app_module
from workbench.tui.app import WorkbenchApp
from workbench.tui.overview import OverviewPane
from workbench.tui.sections import HASHING, SectionsPane


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def digest_cells(app: WorkbenchApp) -> list[str]:
    table = app.query_one("#sections-table", DataTable)
    return [str(table.get_row_at(row)[4]) for row in range(table.row_count)]


def test_describe_without_hashes_reads_no_big_section(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = make_tree(fat=True) / contract.BOOT_PATH
    with PeImage.open(stub) as image:
        full = describe(image)
    assert all(len(section.sha256) == 64 for section in full.sections)

    def refuse(self: PeImage, section: object) -> str:
        raise AssertionError(f"hashed {section}")

    monkeypatch.setattr(PeImage, "section_sha256", refuse)
    with PeImage.open(stub) as image:
        quick = describe(image, hashes=False)
    assert [section.sha256 for section in quick.sections] == [""] * len(full.sections)
    assert (quick.kernel, quick.initrd, quick.cmdline) == (full.kernel, full.initrd, full.cmdline)


def test_inspect_still_shows_every_section_hash(make_tree: Callable[..., Path]) -> None:
    stub = make_tree(fat=True) / contract.BOOT_PATH
    with PeImage.open(stub) as image:
        kernel = hashlib.sha256(image.section_data(contract.KERNEL)).hexdigest()
    shown = subprocess.run(
        [REPO / ".venv/bin/workbench", "inspect", stub],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert kernel[:16] in shown


async def test_hashes_come_from_a_worker_and_show_hashing_until_then(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = make_tree(fat=True) / contract.BOOT_PATH
    on_ui_thread: list[str] = []
    original_sha256 = PeImage.section_sha256

    def watched(self: PeImage, section: object) -> str:
        if threading.current_thread() is threading.main_thread():
            on_ui_thread.append(str(section))
        return original_sha256(self, section)  # type: ignore[arg-type]

    monkeypatch.setattr(PeImage, "section_sha256", watched)
    release = threading.Event()
    original_hash_stub = app_module.hash_stub

    def held(path: Path) -> object:
        assert release.wait(30)
        return original_hash_stub(path)

    monkeypatch.setattr(app_module, "hash_stub", held)
    app = WorkbenchApp(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "hashing…" in app.query_one(OverviewPane).text  # the embedded kernel's check
        await pilot.press("2")
        await pilot.pause()
        assert set(digest_cells(app)) == {HASHING}
        pane = app.query_one(SectionsPane)
        assert pane.select(contract.KERNEL) and f"sha256 {HASHING}" in pane.detail_text
        release.set()
        await wait_until(pilot, lambda: HASHING not in digest_cells(app))
        with PeImage.open(stub) as image:
            expected = [
                hashlib.sha256(image.section_data(section)).hexdigest()
                for section in image.sections
            ]
        assert digest_cells(app) == [digest[:12] for digest in expected]
        kernel = [row.section.name for row in app.stub.rows].index(contract.KERNEL)
        assert f"sha256 {expected[kernel]}" in pane.detail_text
        await settled(pilot)
        assert "hashing…" not in app.query_one(OverviewPane).text
    assert on_ui_thread == []


async def test_a_wrong_embedded_hash_is_still_found(make_tree: Callable[..., Path]) -> None:
    stub = make_tree(fat=True) / contract.BOOT_PATH
    rewrite_sections(stub, {contract.KERNEL_HASH: bytes(32)})
    app = WorkbenchApp(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(OverviewPane)
        await wait_until(pilot, lambda: app.stub.hashed)
        await pilot.pause()
        assert "does not match the embedded kernel" in pane.text
