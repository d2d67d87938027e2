"""The app on bigger stubs and with focus in a text field: slow work runs in workers, boot keys
do not steal typed letters, and a Compare tab shows what `workbench diff` says."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TabbedContent

from workbench import contract
from workbench.pe.edit import rewrite_sections
from workbench.tui.app import WorkbenchApp
from workbench.tui.compare_pane import ComparePane
from workbench.tui.preview_pane import PreviewPane
from workbench.tui.sections import SectionsPane


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def test_typing_b_and_n_into_a_field_types_them(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    booted: list[str] = []
    app.action_boot = lambda mode, secure_boot=False: booted.append(mode)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        box = app.query_one("#edit-cmdline", Input)
        box.focus()
        await pilot.press("end", "space", "b", "n", "q", "s")
        assert box.value.endswith(" bnqs") and booted == []
        # The F-keys boot wherever the focus is.
        await pilot.press("f5", "f6")
        assert booted == ["local", "net"]
        assert app.is_running


async def test_the_section_view_reads_only_what_it_shows(make_tree: Callable[..., Path]) -> None:
    root = make_tree(fat=True)
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    reads: list[int] = []
    async with app.run_test(size=(100, 32)) as pilot:
        original = app.stub.image.section_data

        def counting(section):  # type: ignore[no-untyped-def]
            data = original(section)
            reads.append(len(data))
            return data

        app.stub.image.section_data = counting  # type: ignore[method-assign]
        await pilot.press("2")
        table = app.query_one("#sections-table", DataTable)
        table.focus()
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        await pilot.press("ctrl+home", *["down"] * names.index(contract.KERNEL))
        detail = app.query_one(SectionsPane).detail_text
        assert ".linux  hex" in detail and "more bytes" in detail
        assert all(size <= 64 * 1024 for size in reads), reads


async def test_the_preview_of_an_edit_runs_in_a_worker(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        app.query_one("#edit-kernel_path", Input).focus()
        await pilot.press("end", "x")
        # The key returned before the preview was computed; the preview comes from a worker.
        await wait_until(pilot, lambda: any(w.group == "preview" for w in app.workers))
        pane = app.query_one(PreviewPane)
        try:
            await wait_until(pilot, lambda: "vmlinuzx" in pane.text and "not found" in pane.text)
        except AssertionError:
            raise AssertionError(pane.text) from None


async def test_compare_tab_shows_the_diff(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    root = make_tree("console=ttyS0 quiet")
    other = tmp_path / "other.efi"
    changes = {contract.CMDLINE: b"console=ttyS0 loud"}
    rewrite_sections(root / contract.BOOT_PATH, changes, out=other)
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root, compare=other)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("6")
        assert app.query_one(TabbedContent).active == "compare"
        pane = app.query_one(ComparePane)
        await wait_until(pilot, lambda: "different" in pane.text)
        assert "~ cmdline: console=ttyS0 quiet -> console=ttyS0 loud" in pane.text


async def test_a_200_mib_stub_opens_and_moves_without_waiting(
    tmp_path: Path, sample_kernel: Path
) -> None:
    """The big stub of the benchmark, kept to what a test can afford: every key is handled in
    well under a second (bench/bench_tui.py measures the figures)."""
    from workbench.builder import build_tree, default_stub

    initrd = tmp_path / "big.img"
    initrd.write_bytes(os.urandom(200 << 20))
    root = tmp_path / "big"
    build_tree(stub=default_stub(), kernel=sample_kernel, initrd=initrd, cmdline="quiet",
               out_dir=root, fat=True)  # fmt: skip
    initrd.unlink()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    async with app.run_test(size=(100, 32)) as pilot:
        for keys in (("2",), ("down",) * 6, ("4",), ("1",)):
            started = time.perf_counter()
            await pilot.press(*keys)
            assert time.perf_counter() - started < 1.0 * len(keys), keys


async def test_overview_predicts_pcr11_and_warns_before_an_edit_moves_it(
    make_tree: Callable[..., Path],
) -> None:
    from workbench.pcrs import predict
    from workbench.pe.image import PeImage
    from workbench.tui.overview import OverviewPane

    root = make_tree()
    with PeImage.open(root / contract.BOOT_PATH) as image:
        expected = predict(image).banks["sha256"]["11"]
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(OverviewPane)
        await wait_until(pilot, lambda: expected in pane.text)
        assert "PCR 11 will not unseal" not in pane.text
        await pilot.press("3")
        app.query_one("#edit-cmdline", Input).focus()
        await pilot.press("end", "x")
        await wait_until(pilot, lambda: "PCR 11 will not unseal" in pane.text)
