"""Our stub booted by OVMF from a local ESP image, to the sample initramfs's marker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE, require_tool
from lab_support import Recorder, assert_nothing_left, assert_stub_refused

from workbench.contract import SAMPLE_MARKER
from workbench.lab.boot import BootRequest, boot

pytestmark = [pytest.mark.boot, pytest.mark.timeout(150)]

SPECIAL_CMDLINE = f'{BASE_CMDLINE} wb.note="a b" wb.name=Grüße'


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)


def boot_local(root: Path, expect: str | None = SAMPLE_MARKER) -> tuple[object, Recorder]:
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode="local", expect=expect, timeout=90), recorder)
    assert_nothing_left(recorder)
    return outcome, recorder


def marker_line(recorder: Recorder) -> str:
    return next(line for line in recorder.serial().splitlines() if line.startswith(SAMPLE_MARKER))


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_thin_stub_boots_with_the_exact_command_line(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_local(make_tree(SPECIAL_CMDLINE))
    assert outcome.ok, outcome.reason
    assert outcome.kind == "booted"
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={SPECIAL_CMDLINE}"
    # The stub's own line carries the same text, non-ASCII included, through OVMF's console.
    assert recorder.steps("cmdline")[0].fields["cmdline"] == SPECIAL_CMDLINE
    loaded = recorder.steps("loaded")
    assert [(s.subject, s.fields.get("sha256")) for s in loaded] == [
        ("kernel", "ok"),
        ("initrd", "ok"),
    ]
    assert recorder.steps("source")[0].fields["source"] == "local"
    assert recorder.steps("error") == []


def test_fat_stub_boots_without_expect_until_power_off(make_tree: Callable[..., Path]) -> None:
    root = make_tree(fat=True)
    assert not (root / "EFI" / "Linux").exists() or not any((root / "EFI" / "Linux").iterdir())
    outcome, recorder = boot_local(root, expect=None)
    # The default goal: the stub starts the kernel and the machine powers itself off.
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"
    assert recorder.steps("starting")
    assert all("embedded" in s.fields for s in recorder.steps("loaded"))


@pytest.mark.parametrize(("what", "filename"), [("kernel", "vmlinuz"), ("initrd", "initrd.img")])
def test_tampered_file_never_boots_and_resets(
    make_tree: Callable[..., Path], what: str, filename: str
) -> None:
    root = make_tree()
    flip_byte(root / "EFI" / "Linux" / filename, 4096)
    outcome, recorder = boot_local(root)
    error = assert_stub_refused(outcome, recorder, what, filename)
    assert "sha256" in (error.reason or "")
    assert outcome.resets == 1


def test_missing_initrd_is_named_and_resets(make_tree: Callable[..., Path]) -> None:
    root = make_tree()
    (root / "EFI" / "Linux" / "initrd.img").unlink()
    outcome, recorder = boot_local(root)
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    assert error.reason == "file not found"


def test_kernel_panic_reboot_without_stub_error_is_a_reset_loop(
    make_tree: Callable[..., Path],
) -> None:
    # No such init: the kernel panics and, with panic=-1, resets at once.
    outcome, recorder = boot_local(make_tree(f"{BASE_CMDLINE} rdinit=/no/such/init"))
    assert outcome.kind == "reset-loop"
    assert outcome.resets == 1
    assert outcome.errors == []
    assert recorder.steps("starting")
    assert "Kernel panic" in recorder.serial()


def test_power_off_before_the_expected_text_is_exited(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_local(make_tree(), expect="text the sample never prints")
    assert outcome.kind == "exited"
    assert not outcome.ok
    assert "powered off" in outcome.reason
    assert SAMPLE_MARKER in recorder.serial()
