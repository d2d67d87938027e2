"""The stub keeps Secure Boot's promise against what ran before it and what runs after it.

- A foreign initrd: an earlier loader left LoadFile2 on the initrd media device path. The stub
  must refuse to boot (with or without an initrd of its own), not hand the verified kernel
  somebody else's initrd.
- A failing kernel: Linux's EFI stub fails by calling Exit() on the stub's own image handle.
  The stub must keep control and apply its failure policy (reset, so PXE tries again).

Stand-ins from stub/tests/efi play the earlier loader and the failing kernel.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_file, require_tool
from lab_support import Recorder, assert_nothing_left

from workbench import contract
from workbench.lab.boot import BootRequest, boot

pytestmark = [pytest.mark.boot, pytest.mark.timeout(180)]

ROGUE_MARKER = "WORKBENCH-ROGUE-INITRD"
FOREIGN_INITRD = "another loader already registered an initrd (LoadFile2 on the initrd media path)"


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)


def _rogue_initrd(directory: Path) -> Path:
    """An initramfs that would announce itself if the kernel ever ran it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_initrd", REPO / "samples/make_initrd.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    init = directory / "rogue-init.sh"
    init.write_text(f"#!/bin/busybox sh\necho {ROGUE_MARKER}\n/bin/busybox poweroff -f\n")
    busybox = require_file(Path("/bin/busybox"))
    archive = module.build_initrd(busybox, init)
    out = directory / "rogue.img"
    out.write_bytes(gzip.compress(archive, mtime=0))
    return out


def _behind_planter(root: Path, planter: Path, rogue: Path) -> None:
    """The firmware starts the planter; it plants the rogue initrd, then starts our stub."""
    own = root / "EFI/workbench"
    own.mkdir(parents=True)
    shutil.move(root / contract.BOOT_PATH, own / "stub.efi")
    shutil.copyfile(planter, root / contract.BOOT_PATH)
    shutil.copyfile(rogue, own / "rogue.img")


@pytest.mark.parametrize("with_initrd", [True, False], ids=["own-initrd", "no-initrd"])
def test_a_foreign_initrd_never_reaches_the_verified_kernel(
    with_initrd: bool, make_tree: Callable[..., Path], test_app: Callable[[str], Path],
    tmp_path: Path,
) -> None:  # fmt: skip
    root = make_tree(with_initrd=with_initrd)
    _behind_planter(root, test_app("plant-initrd"), _rogue_initrd(tmp_path))
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode="local", expect=ROGUE_MARKER, timeout=90), recorder)
    assert_nothing_left(recorder)

    serial = recorder.serial()
    assert "WORKBENCH-PLANTER planted a rogue initrd: Success" in serial
    assert ROGUE_MARKER not in serial and contract.SAMPLE_MARKER not in serial
    assert not outcome.ok and outcome.kind == "stub-error", outcome
    error = recorder.steps("error")[0]
    assert (error.subject, error.reason) == ("initrd", FOREIGN_INITRD)
    assert error.fields["status"] == "EFI_ALREADY_STARTED"
    # Nothing was fetched: the check comes before the kernel is read.
    assert recorder.steps("loaded") == []
    assert outcome.reset_after_error


@pytest.mark.parametrize("mode", ["local", "net"])
def test_a_kernel_that_exits_meets_the_failure_policy(
    mode: str, make_tree: Callable[..., Path], test_app: Callable[[str], Path]
) -> None:
    if mode == "net":
        require_tool("dnsmasq")
    root = make_tree(kernel=test_app("exit-kernel"))
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode=mode, expect=None, timeout=90), recorder)
    assert_nothing_left(recorder)

    serial = recorder.serial()
    assert "WORKBENCH-TEST-KERNEL calling Exit" in serial
    assert "Exit returned" not in serial
    errors = recorder.steps("error")
    assert [(e.subject, e.reason, e.fields.get("status")) for e in errors] == [
        ("kernel", "the kernel's EFI stub failed", "EFI_UNSUPPORTED")
    ]
    assert recorder.steps("resetting"), "the default policy resets"
    assert outcome.kind == "kernel-failed", outcome
    assert outcome.reason == "the kernel's EFI stub failed: EFI_UNSUPPORTED (the machine reset)"
    assert outcome.reset_after_error


def test_a_kernel_that_returns_meets_the_failure_policy_too(
    make_tree: Callable[..., Path], test_app: Callable[[str], Path]
) -> None:
    root = make_tree("console=ttyS0 return", kernel=test_app("exit-kernel"))
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode="local", expect=None, timeout=90), recorder)
    assert "WORKBENCH-TEST-KERNEL returning" in recorder.serial()
    error = recorder.steps("error")[0]
    assert (error.reason, error.fields.get("status")) == ("the kernel returned", "EFI_UNSUPPORTED")
    assert outcome.kind == "stub-error" and outcome.reset_after_error, outcome


def test_exit_policy_returns_the_kernels_status_to_the_firmware(
    make_tree: Callable[..., Path], test_app: Callable[[str], Path]
) -> None:
    """on-error=exit: the guard unhooks Exit(), so the stub's own Exit() reaches the firmware."""
    root = make_tree(kernel=test_app("exit-kernel"), policy={"on-error": "exit"})
    recorder = Recorder()
    boot(BootRequest(root=root, mode="local", expect=None, timeout=60), recorder)
    assert recorder.steps("returning"), recorder.serial()
    # OVMF's boot manager reports the failed option with the status the stub returned.
    assert "Unsupported" in recorder.serial().split("stub: returning to=firmware", 1)[1]
