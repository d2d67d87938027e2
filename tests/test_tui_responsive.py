"""The app on bigger stubs and with focus in a text field: slow work runs in workers, boot keys
do not steal typed letters, and a Compare tab shows what `workbench diff` says."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TabbedContent
from tui_support import settled

from workbench import contract
from workbench.pe.edit import rewrite_sections
from workbench.tui.app import WorkbenchApp
from workbench.tui.compare_pane import ComparePane
from workbench.tui.log_pane import LogPane
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
        started: list[str] = []
        compute = app.compute_preview

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.append("preview")
            return compute(*args, **kwargs)

        app.compute_preview = counting  # type: ignore[method-assign]
        await pilot.press("end", "x")
        # The key returned at once; the preview is computed by a worker once typing pauses.
        pane = app.query_one(PreviewPane)
        try:
            await wait_until(pilot, lambda: "vmlinuzx" in pane.text and "not found" in pane.text)
        except AssertionError:
            state = (app.session.values, started, pane.text)
            raise AssertionError(state) from None
        assert started


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


async def test_log_tab_explains_a_log_from_another_machine(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    """`open --log`: the timeline `workbench explain` gives, off the UI thread, as text."""
    root = make_tree()
    log = tmp_path / "machine.log"
    log.write_bytes(
        b"\x1b[2J>>Start PXE over IPv4.\r\n"
        b"stub: version=0.1.0\r\nstub: source=net server=10.0.2.2\r\n"
        b"stub: loading initrd path=\\EFI\\Linux\\initrd.img "
        b"from=tftp://10.0.2.2/EFI/Linux/initrd.img\r\n"
        b"stub: error: initrd \\EFI\\Linux\\initrd.img: sha256 mismatch [x] "
        b"status=EFI_SECURITY_VIOLATION\r\n"
    )
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root, log=log)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("7")
        assert app.query_one(TabbedContent).active == "log"
        pane = app.query_one(LogPane)
        await wait_until(pilot, lambda: "Reading the log" not in pane.text)
        assert "sha256 mismatch [x]" in pane.text  # as text: brackets are not markup
        assert "EFI_SECURITY_VIOLATION" in pane.text and "10.0.2.2" in pane.text
        assert "failed at line 5" in pane.text and "what to do:" in pane.text


async def test_slow_work_never_runs_on_the_ui_thread(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preview, PCR prediction and rehash hash whole files (200 MB in a fat stub): each must run
    in a worker thread, whatever the size. bench/bench_tui.py measures the latencies."""
    import threading

    from workbench.tui import app as app_module
    from workbench.tui import rehash

    on_ui_thread: list[str] = []

    def watch(name, function):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if threading.current_thread() is threading.main_thread():
                on_ui_thread.append(name)
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(app_module, "preview", watch("preview", app_module.preview))
    monkeypatch.setattr(rehash, "hashes_from_root", watch("rehash", rehash.hashes_from_root))
    import workbench.pcrs as pcrs

    monkeypatch.setattr(pcrs, "predict", watch("pcrs", pcrs.predict))
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    async with app.run_test(size=(100, 32)) as pilot:
        await settled(pilot)
        await pilot.press("3", "ctrl+r")
        await settled(pilot)
        app.query_one("#edit-cmdline", Input).focus()
        await pilot.press("end", "x")
        await settled(pilot)
        assert app.pcr11 is not None
    assert on_ui_thread == []


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


async def test_debug_key_names_the_command_when_there_is_no_terminal(
    make_tree: Callable[..., Path],
) -> None:
    """`D` hands the terminal to `workbench debug`; headless, where the app cannot step aside,
    it says the command to run instead, and nothing starts."""
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("D")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert f"A debug boot needs a terminal: run workbench debug {root} --mode local" in messages
        assert not app.boot_running
