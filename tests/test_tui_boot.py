"""Real boots from the app: QEMU + OVMF + the sample kernel, started and stopped with keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from conftest import require_tool
from textual.widgets import ProgressBar, RichLog
from tui_support import descendants, wait_until

from workbench import contract
from workbench.keys import init_keys
from workbench.pe.image import PeImage
from workbench.pe.signing import sign
from workbench.stubinfo import describe
from workbench.tui.app import WorkbenchApp
from workbench.tui.boot_pane import BootPane, TransferRow
from workbench.tui.dialogs import ChoiceDialog
from workbench.tui.editing import Field

pytestmark = pytest.mark.boot


def serial_text(app: WorkbenchApp) -> str:
    return "\n".join(strip.text for strip in app.query_one("#boot-serial", RichLog).lines)


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64")
    require_tool("mkfs.vfat")
    require_tool("mcopy")


@pytest.mark.timeout(240)
async def test_edit_then_boot_asks_to_save_and_boots_the_new_cmdline(
    make_tree: Callable[..., Path],
) -> None:
    root = make_tree()
    stub = root / contract.BOOT_PATH
    cmdline = "console=ttyS0 panic=-1 wb.tui=edited"
    app = WorkbenchApp(stub, expect=contract.SAMPLE_MARKER, boot_timeout=150)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        box = app.query_one(f"#edit-{Field.CMDLINE}")
        box.focus()
        await pilot.press("end", *" wb.tui=edited")
        await pilot.press("escape", "b")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), 5)
        await pilot.click("#choice-save")
        pane = app.query_one(BootPane)
        await wait_until(pilot, lambda: pane.outcome is not None, 180)
        assert pane.outcome is not None and pane.outcome.kind == "booted", pane.banner_text
        assert pane.banner_text.startswith("BOOTED")
        steps = pane.timeline_steps
        assert any(step.startswith("loaded kernel") and "sha256=ok" in step for step in steps)
        assert "starting kernel" in steps
        assert f"{contract.SAMPLE_MARKER} cmdline={cmdline}" in serial_text(app)
    with PeImage.open(stub) as image:
        assert describe(image).cmdline == cmdline
    assert "qemu-system-x86_64" not in "".join(descendants())


@pytest.mark.timeout(120)
async def test_stop_mid_boot_leaves_nothing_running(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, boot_timeout=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        pane = app.query_one(BootPane)
        assert pane.banner_text.startswith("RUNNING")
        # Stop once the firmware is talking: QEMU is surely running by then.
        await wait_until(pilot, lambda: len(app.query_one("#boot-serial", RichLog).lines) > 0, 60)
        assert any("qemu" in name for name in descendants())
        await pilot.press("s")
        await wait_until(pilot, lambda: pane.outcome is not None, 30)
        assert pane.outcome is not None and pane.outcome.kind == "interrupted"
        assert pane.banner_text.startswith("STOPPED")
        assert not app.boot_running
    assert not [name for name in descendants() if "qemu" in name]


@pytest.mark.timeout(120)
async def test_quit_during_a_boot_stops_it_first(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    app = WorkbenchApp(root / contract.BOOT_PATH, boot_timeout=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_until(pilot, lambda: any("qemu" in name for name in descendants()), 60)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, 30)
    assert app.last_outcome is not None and app.last_outcome.kind == "interrupted"
    assert not [name for name in descendants() if "qemu" in name]


@contextlib.asynccontextmanager
async def netbooted_by_key(root: Path, key: str) -> AsyncIterator[tuple[WorkbenchApp, BootPane]]:
    """The app after KEY started a network boot of ROOT and the boot reached the marker; on
    leaving, no QEMU or dnsmasq is left."""
    require_tool("dnsmasq")
    require_tool("unshare")
    app = WorkbenchApp(root / contract.BOOT_PATH, expect=contract.SAMPLE_MARKER, boot_timeout=150)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        pane = app.query_one(BootPane)
        await wait_until(pilot, lambda: pane.outcome is not None, 180)
        assert pane.outcome is not None and pane.outcome.kind == "booted", pane.banner_text
        yield app, pane
    assert not [name for name in descendants() if name in ("qemu-system-x86", "dnsmasq")]


@pytest.mark.net
@pytest.mark.timeout(240)
async def test_netboot_shows_transfers_and_boots(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    async with netbooted_by_key(root, "n") as (app, pane):
        assert pane.banner_text.startswith("BOOTED")
        assert "source=net server=10.0.2.2" in pane.timeline_steps
        rows = {row.filename: row for row in app.query(TransferRow)}
        kernel = rows["EFI/Linux/vmlinuz"]
        assert kernel.latest is not None and kernel.latest.state == "done"
        assert kernel.latest.bytes == (root / "EFI/Linux/vmlinuz").stat().st_size
        assert "done" in str(kernel.query_one(".transfer-info").content)
        assert kernel.query_one(ProgressBar).percentage == 1.0
        assert "EFI/Linux/initrd.img" in rows and "EFI/BOOT/BOOTX64.EFI" in rows


@pytest.mark.timeout(240)
async def test_http_boot_key_boots_by_http_and_shows_transfers(
    make_tree: Callable[..., Path],
) -> None:
    root = make_tree()
    async with netbooted_by_key(root, "f7") as (app, pane):
        url = "http://10.0.2.2/EFI/BOOT/BOOTX64.EFI"
        assert f"source=http server=10.0.2.2 url={url}" in pane.timeline_steps
        rows = {row.filename: row for row in app.query(TransferRow)}
        kernel = rows["EFI/Linux/vmlinuz"]
        assert kernel.latest is not None and kernel.latest.protocol == "http"
        assert kernel.latest.bytes == (root / "EFI/Linux/vmlinuz").stat().st_size
        assert kernel.query_one(ProgressBar).percentage == 1.0


@pytest.mark.timeout(240)
async def test_secure_boot_key_boots_a_signed_stub_with_secure_boot_enforced(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    require_tool("sbsign")
    keys = tmp_path / "keys"
    init_keys(keys)
    root = make_tree()
    sign(root / contract.BOOT_PATH, keys)
    app = WorkbenchApp(
        root / contract.BOOT_PATH, keys=keys, expect=contract.SAMPLE_MARKER, boot_timeout=150
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("B")
        pane = app.query_one(BootPane)
        await wait_until(pilot, lambda: pane.outcome is not None, 180)
        assert pane.outcome is not None and pane.outcome.kind == "booted", pane.banner_text
        assert "secureboot=enabled" in pane.timeline_steps
        vars_dir = Path(app.boot_run_vars_dir) if app.boot_run_vars_dir else None
    assert vars_dir is not None and not vars_dir.exists()
    assert not [name for name in descendants() if "qemu" in name]


async def test_secure_boot_key_without_keys_explains_and_starts_nothing(
    make_tree: Callable[..., Path],
) -> None:
    app = WorkbenchApp(make_tree() / contract.BOOT_PATH)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("N")
        await pilot.pause()
        assert not app.boot_running
        assert app.query_one(BootPane).outcome is None
