"""Our stub PXE-booted by OVMF in the private network lab, with the TFTP server's faults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE
from lab_support import (
    assert_stub_refused,
    boot_in_lab,
    marker_line,
    require_net_lab,
)

from workbench.contract import SAMPLE_MARKER
from workbench.lab.faults import FaultPlan
from workbench.lab.netns import NAMESPACE_ENV

pytestmark = [pytest.mark.boot, pytest.mark.net, pytest.mark.timeout(240)]

SPECIAL_CMDLINE = f'{BASE_CMDLINE} wb.note="a b" wb.name=Grüße'
KERNEL = "EFI/Linux/vmlinuz"
INITRD = "EFI/Linux/initrd.img"


@pytest.fixture(autouse=True)
def _lab_tools() -> None:
    require_net_lab()


def test_thin_stub_netboots_with_the_exact_command_line(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree(SPECIAL_CMDLINE))
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={SPECIAL_CMDLINE}"
    source = recorder.steps("source")[0]
    assert source.fields == {"source": "net", "server": "10.0.2.2"}
    done = {t.filename: t for t in recorder.transfers("done")}
    assert {"EFI/BOOT/BOOTX64.EFI", KERNEL, INITRD} <= set(done)
    assert done[KERNEL].bytes == done[KERNEL].total
    # EDK2 asks for the size first and aborts: shown as a probe, not as a failure.
    assert recorder.transfers("probe")
    assert recorder.transfers("failed") == []


def test_unprivileged_form_user_and_net_namespace_netboots(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a non-root user gets: the lab maps itself to root in a user namespace of its own.
    monkeypatch.setenv(NAMESPACE_ENV, "user")
    outcome, recorder = boot_in_lab(make_tree())
    assert outcome.ok, outcome.reason
    assert recorder.userns is not None, "QEMU did not run in a user namespace of its own"
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"


def test_fat_stub_netboots(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree(fat=True))
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"
    # Everything came inside the boot file.
    assert {t.filename for t in recorder.transfers("done")} == {"EFI/BOOT/BOOTX64.EFI"}


def test_tampered_initrd_on_the_server_never_boots(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree(), faults=FaultPlan(corrupt={INITRD: 5000}))
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    assert (error.reason or "").startswith("sha256 mismatch")


def test_first_kernel_request_fails_then_pxe_retry_boots(make_tree: Callable[..., Path]) -> None:
    faults = FaultPlan(fail_first={KERNEL: 1})
    outcome, recorder = boot_in_lab(make_tree(), faults=faults, max_resets=1)
    assert outcome.ok, outcome.reason
    assert outcome.resets == 1
    assert outcome.reset_after_error
    assert outcome.errors and outcome.errors[0].startswith("error: kernel")
    failed = recorder.transfers("failed")
    assert [t.filename for t in failed] == [KERNEL]
    # The boot file was fetched once per PXE attempt.
    assert [t.filename for t in recorder.transfers("done")].count("EFI/BOOT/BOOTX64.EFI") == 2


def test_server_stalling_mid_initrd_errors_and_resets(make_tree: Callable[..., Path]) -> None:
    faults = FaultPlan(stop_after={INITRD: 300_000})
    outcome, recorder = boot_in_lab(make_tree(), faults=faults, timeout=180)
    assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    stalled = [t for t in recorder.transfers("failed") if t.filename == INITRD]
    assert stalled and "stopped after" in (stalled[0].error or "")
