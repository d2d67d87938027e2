"""The stub's edges: a kernel whose ExitBootServices fails, and servers too slow to finish.

- ExitBootServices with a stale map key fails; Linux fetches the map and tries again, and when
  that fails too it calls Exit(). The stub must still catch that Exit() (its guard goes back in
  after a failed call), print its error line and follow its policy, not drop to the firmware
  with its initrd still installed.
- `.policy fetch-timeout=` bounds each file: a server that stops sending ends in the stub's
  own `EFI_TIMEOUT` error line before the transfer's per-step timeouts would, and the policy
  (here `halt`) applies instead of a silent watchdog reset.

The stand-in kernel is stub/tests/efi/exit-kernel.c ("ebs" on its command line).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_tool
from lab_support import Recorder, assert_nothing_left, boot_in_lab, require_net_lab

from workbench.lab.boot import BootRequest, boot
from workbench.lab.faults import FaultPlan
from workbench.lab.request import BootMode

pytestmark = [pytest.mark.boot, pytest.mark.timeout(240)]

KERNEL = "EFI/Linux/vmlinuz"


def test_a_kernel_whose_exit_boot_services_fails_still_meets_the_policy(
    make_tree: Callable[..., Path], test_app: Callable[[str], Path]
) -> None:
    for tool in ("qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)
    root = make_tree("console=ttyS0 ebs", kernel=test_app("exit-kernel"))
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode="local", expect=None, timeout=90), recorder)
    assert_nothing_left(recorder)

    serial = recorder.serial()
    # Both attempts failed, and the table stayed consistent (the guard's CRC without a boot
    # service matches the firmware's own CRC of it).
    for attempt in (1, 2):
        assert f"ExitBootServices attempt {attempt}: Invalid Parameter crc=ok" in serial, serial
    assert "WORKBENCH-TEST-KERNEL boot services crc=ok" in serial
    assert "WORKBENCH-TEST-KERNEL calling Exit" in serial
    warnings = [step.reason for step in recorder.steps("warning")]
    assert any("ExitBootServices failed (2 calls)" in (w or "") for w in warnings), warnings
    errors = recorder.steps("error")
    assert [(e.subject, e.reason, e.fields.get("status")) for e in errors] == [
        ("kernel", "the kernel's EFI stub failed", "EFI_INVALID_PARAMETER")
    ]
    assert recorder.steps("resetting"), "the default policy resets"
    assert outcome.kind == "kernel-failed" and outcome.reset_after_error, outcome


def test_exit_after_a_failed_exit_boot_services_resets_instead(
    make_tree: Callable[..., Path], test_app: Callable[[str], Path]
) -> None:
    """on-error=exit would hand the machine back to a boot manager whose timer EDK2 stopped
    in the failed ExitBootServices: the stub resets instead, and says so."""
    for tool in ("qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)
    root = make_tree(
        "console=ttyS0 ebs", kernel=test_app("exit-kernel"), policy={"on-error": "exit"}
    )
    recorder = Recorder()
    outcome = boot(BootRequest(root=root, mode="local", expect=None, timeout=90), recorder)
    assert_nothing_left(recorder)
    warnings = [(step.subject, step.reason) for step in recorder.steps("warning")]
    assert (
        "policy",
        "on-error=exit after a failed ExitBootServices: resetting instead",
    ) in warnings
    assert recorder.steps("resetting") and not recorder.steps("returning"), recorder.serial()
    assert outcome.kind == "kernel-failed" and outcome.reset_after_error, outcome


@pytest.mark.net
@pytest.mark.parametrize(
    ("mode", "faults"),
    [
        # HTTP: 300 000 bytes, then silence; each Response() would wait 10 s.
        ("http", FaultPlan(stall_after={KERNEL: 300_000})),
        # HTTP: 300 000 bytes, then one byte every 2 s: each Response() gets a byte in time,
        # so only the deadline ends it (before it, the 300 s watchdog reset the machine).
        ("http", FaultPlan(trickle_after={KERNEL: 300_000})),
        # TFTP: blocks stop after 300 000 bytes; MTFTP4 would retry for 6 x 4 s, then ask
        # again with 1468-byte blocks.
        ("net", FaultPlan(stop_after={KERNEL: 300_000})),
        # TFTP: after 300 000 bytes the server only resends an old block every 2 s; EDK2
        # re-acknowledges it without calling back and restarts its retries, so only the
        # stub's own polling loop sees the deadline (before it, the watchdog reset at 300 s).
        ("net", FaultPlan(repeat_after={KERNEL: 300_000})),
    ],
    ids=["http", "http-trickle", "tftp", "tftp-repeat"],
)
def test_fetch_timeout_ends_a_stalled_transfer_in_the_error_line_and_the_policy(
    mode: BootMode, faults: FaultPlan, make_tree: Callable[..., Path]
) -> None:
    require_net_lab()
    root = make_tree(policy={"fetch-timeout": "3", "on-error": "halt"})
    outcome, recorder = boot_in_lab(root, mode, faults=faults, timeout=150)

    errors = recorder.steps("error")
    assert len(errors) == 1, errors
    error = errors[0]
    assert error.subject == "kernel" and (error.path or "").endswith("vmlinuz"), error
    assert (error.reason or "").startswith("fetch-timeout of 3 s passed"), error
    assert error.fields.get("status") == "EFI_TIMEOUT", error
    assert recorder.steps("halting"), "on-error=halt holds; no watchdog reset comes first"
    assert not outcome.ok and not outcome.reset_after_error, outcome
    # No second try after the deadline (TFTP would otherwise ask again with smaller blocks).
    assert not [s for s in recorder.steps("warning") if s.subject == "tftp"]
