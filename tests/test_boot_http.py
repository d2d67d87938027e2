"""Our stub loaded by UEFI HTTP Boot, and network boots over IPv6, in the private lab.

HTTP: OVMF boots http://10.0.2.2/EFI/BOOT/BOOTX64.EFI (dnsmasq answers the HTTPClient vendor
class), and the stub fetches the kernel and initrd with EFI_HTTP_PROTOCOL from the same server,
resolving its paths against its own URL. IPv6: the lab's network is IPv6 only and OVMF loads no
IPv4 stack; the stub finds its TFTP server in the DHCPv6 boot file URL, or, loaded by HTTP Boot
over IPv6, its own URL in the device path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE
from lab_support import (
    Recorder,
    assert_stub_refused,
    boot_in_lab,
    marker_line,
    require_net_lab,
)

from workbench import contract
from workbench.contract import SAMPLE_MARKER
from workbench.lab.faults import FaultPlan
from workbench.pe.edit import rewrite_sections

pytestmark = [pytest.mark.boot, pytest.mark.net, pytest.mark.timeout(240)]

KERNEL = "EFI/Linux/vmlinuz"
INITRD = "EFI/Linux/initrd.img"
STUB_URL = "http://10.0.2.2/EFI/BOOT/BOOTX64.EFI"


@pytest.fixture(autouse=True)
def _lab_tools() -> None:
    require_net_lab()


# `.policy net-stack=` and the `via=` of the transfer lines it gives over IPv4.
STACKS = {"own": "own-http", "firmware": "http"}


def transfer_fields(recorder: Recorder, what: str) -> dict[str, str]:
    return next(step.fields for step in recorder.steps("transfer") if step.subject == what)


@pytest.mark.parametrize("stack", STACKS)
def test_http_boot_reaches_userspace_with_the_exact_command_line(
    stack: str, make_tree: Callable[..., Path]
) -> None:
    root = make_tree(policy={"net-stack": stack})
    outcome, recorder = boot_in_lab(root, "http")
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"
    source = recorder.steps("source")[0]
    assert source.fields == {"source": "http", "server": "10.0.2.2", "url": STUB_URL}
    loading = [step.fields["from"] for step in recorder.steps("loading")]
    assert loading == [f"http://10.0.2.2/{KERNEL}", f"http://10.0.2.2/{INITRD}"]
    kernel = transfer_fields(recorder, "kernel")
    assert kernel["via"] == STACKS[stack]
    assert int(kernel["bytes"]) == (root / KERNEL).stat().st_size
    done = {t.filename: t for t in recorder.transfers("done") if t.protocol == "http"}
    assert {"EFI/BOOT/BOOTX64.EFI", KERNEL, INITRD} <= set(done)
    assert recorder.transfers("failed") == []
    # The whole boot ran by HTTP: no TFTP server was there to ask.
    assert all(t.protocol == "http" for t in recorder.transfers("done"))


@pytest.mark.parametrize("stack", STACKS)
def test_tampered_initrd_over_http_never_boots(stack: str, make_tree: Callable[..., Path]) -> None:
    root = make_tree(policy={"net-stack": stack})
    outcome, recorder = boot_in_lab(root, "http", faults=FaultPlan(corrupt={INITRD: 5000}))
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    assert (error.reason or "").startswith("sha256 mismatch")


@pytest.mark.parametrize(
    ("faults", "what", "line"),
    [
        (FaultPlan(http_status={KERNEL: 404}), "kernel",
         f"error: kernel http://10.0.2.2/{KERNEL}: HTTP 404 Not Found status=EFI_NOT_FOUND"),
        (FaultPlan(http_status={INITRD: 500}), "initrd",
         f"error: initrd http://10.0.2.2/{INITRD}: HTTP 500 Internal Server Error "
         "status=EFI_HTTP_ERROR"),
        (FaultPlan(no_length=[KERNEL]), "kernel",
         f"error: kernel http://10.0.2.2/{KERNEL}: no Content-Length header (the size must be "
         "known before the body) status=EFI_PROTOCOL_ERROR"),
        (FaultPlan(stop_after={INITRD: 300_000}), "initrd",
         f"error: initrd http://10.0.2.2/{INITRD}: the body ended after 300000 of "),
        (FaultPlan(stall_after={INITRD: 300_000}), "initrd",
         f"error: initrd http://10.0.2.2/{INITRD}: timeout after 300000 of "),
    ],
    ids=["404", "500", "no-length", "short-body", "stall"],
)  # fmt: skip
@pytest.mark.parametrize("stack", STACKS)
def test_every_http_fault_ends_in_one_clear_error_and_a_reset(
    stack: str, make_tree: Callable[..., Path], faults: FaultPlan, what: str, line: str
) -> None:
    root = make_tree(policy={"net-stack": stack})
    outcome, recorder = boot_in_lab(root, "http", faults=faults, timeout=180)
    assert_stub_refused(outcome, recorder, what, Path(KERNEL if what == "kernel" else INITRD).name)
    assert outcome.errors[0].startswith(line), outcome.errors


def test_first_kernel_request_fails_then_http_boot_retry_boots(
    make_tree: Callable[..., Path],
) -> None:
    outcome, _ = boot_in_lab(
        make_tree(), "http", faults=FaultPlan(fail_first={KERNEL: 1}), max_resets=1
    )
    assert outcome.ok, outcome.reason
    assert outcome.resets == 1
    assert outcome.errors[0] == (
        f"error: kernel http://10.0.2.2/{KERNEL}: HTTP 503 Service Unavailable "
        "status=EFI_HTTP_ERROR"
    )


def test_pxe_over_ipv6_only_reaches_userspace(make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree(), "net", ipv6=True)
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"
    assert recorder.steps("source")[0].fields == {"source": "net", "server": "fd00::2"}
    loading = [step.fields["from"] for step in recorder.steps("loading")]
    assert loading == [f"tftp://[fd00::2]/{KERNEL}", f"tftp://[fd00::2]/{INITRD}"]
    # Every transfer came from an IPv6 client.
    clients = {t.client for t in recorder.transfers("done")}
    assert clients and all(":" in client for client in clients)


def test_http_paths_after_a_pxe_boot_over_ipv6(make_tree: Callable[..., Path]) -> None:
    """The stub's own HTTP client over IPv6: http://[fd00::2] paths after PXE."""
    root = make_tree()
    rewrite_sections(root / contract.BOOT_PATH, {
        contract.KERNEL: f"http://[fd00::2]/{KERNEL}".encode(),
        contract.INITRD: f"http://[fd00::2]/{INITRD}".encode(),
    })  # fmt: skip
    outcome, recorder = boot_in_lab(root, "net", ipv6=True)
    assert outcome.ok, outcome.reason
    assert transfer_fields(recorder, "kernel")["via"] == "http"
    http = {t.filename for t in recorder.transfers("done") if t.protocol == "http"}
    assert http == {KERNEL, INITRD}


@pytest.mark.timeout(300)
def test_http_boot_over_ipv6_reaches_userspace(make_tree: Callable[..., Path]) -> None:
    """UEFI HTTP Boot over IPv6 only: the firmware's own PXE over IPv6 goes first (it readies
    the IPv6 stack OVMF 2022.11's HTTP Boot needs) and fails, which the lab takes in stride;
    then HTTP Boot loads the stub from the DHCPv6 URL and the stub fetches over IPv6."""
    # Per attempt: a stalled firmware stage gets one more machine (lab_support.firmware_stalled).
    outcome, recorder = boot_in_lab(make_tree(), "http", ipv6=True, timeout=120)
    assert outcome.ok, outcome.reason
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={BASE_CMDLINE}"
    assert '"UEFI PXEv6' in recorder.serial()  # the prelude did run
    source = recorder.steps("source")[0]
    url6 = "http://[fd00::2]/EFI/BOOT/BOOTX64.EFI"
    assert source.fields == {"source": "http", "server": "[fd00::2]", "url": url6}
    loading = [step.fields["from"] for step in recorder.steps("loading")]
    assert loading == [f"http://[fd00::2]/{KERNEL}", f"http://[fd00::2]/{INITRD}"]
    done = {t.filename: t for t in recorder.transfers("done") if t.protocol == "http"}
    assert {"EFI/BOOT/BOOTX64.EFI", KERNEL, INITRD} <= set(done)
    assert all(":" in t.client for t in done.values())


@pytest.mark.timeout(300)
def test_tampered_initrd_over_http_and_ipv6_never_boots(make_tree: Callable[..., Path]) -> None:
    faults = FaultPlan(corrupt={INITRD: 5000})
    outcome, recorder = boot_in_lab(make_tree(), "http", ipv6=True, faults=faults, timeout=120)
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    assert (error.reason or "").startswith("sha256 mismatch")
