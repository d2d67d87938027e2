"""The stub's TFTP clients in real firmware, its own (ARP, IPv4, UDP and TFTP over the NIC
driver's SNP) and the firmware's MTFTP4: tsize, a large block and an RFC 7440 window in one
request per file, the fallbacks when a server refuses options, lost packets, and the peer
servers of the lab (atftpd, dnsmasq)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import require_tool
from lab_support import Recorder, boot_in_lab, require_net_lab

from workbench.lab.events import Outcome, StubStep
from workbench.lab.faults import FaultPlan

pytestmark = [pytest.mark.boot, pytest.mark.net, pytest.mark.timeout(240)]

KERNEL = "EFI/Linux/vmlinuz"
INITRD = "EFI/Linux/initrd.img"


@pytest.fixture(autouse=True)
def _lab_tools() -> None:
    require_net_lab()


# `.policy net-stack=` and the `via=` of the transfer lines it gives.
STACKS = {"own": "own-tftp", "firmware": "mtftp4"}


def netboot(root: Path, **options: Any) -> tuple[Outcome, Recorder]:
    outcome, recorder = boot_in_lab(root, **options)
    assert outcome.ok, (outcome.reason, recorder.serial()[-3000:])
    return outcome, recorder


def transfers(recorder: Recorder) -> dict[str, StubStep]:
    return {step.subject or "": step for step in recorder.steps("transfer")}


def fallbacks(recorder: Recorder) -> list[str]:
    """The `warning: tftp: ...` lines, as `tftp: <text>`."""
    return [f"tftp: {step.reason}" for step in recorder.steps("warning") if step.subject == "tftp"]


@pytest.mark.parametrize("stack", STACKS)
def test_one_windowed_request_per_file(stack: str, make_tree: Callable[..., Path]) -> None:
    _, recorder = netboot(make_tree(policy={"net-stack": stack}))
    for what, name in (("kernel", KERNEL), ("initrd", INITRD)):
        line = transfers(recorder)[what]
        assert line.fields["via"] == STACKS[stack]
        assert (line.fields["blksize"], line.fields["window"]) == ("16384", "8")
        assert int(line.fields["bytes"]) > 0 and "ms" in line.fields
        # The server saw exactly one request for the file, with the same options, no size probe.
        seen = [e for e in recorder.events if getattr(e, "filename", None) == name]
        assert [e.state for e in seen if e.state != "progress"] == ["started", "done"]
        assert (seen[0].blksize, seen[0].window) == (16384, 8)
    assert fallbacks(recorder) == []


def test_policy_sets_block_and_window(make_tree: Callable[..., Path]) -> None:
    root = make_tree(policy={"tftp-blksize": "1468", "tftp-window": "32"})
    _, recorder = netboot(root)
    line = transfers(recorder)["kernel"]
    assert (line.fields["blksize"], line.fields["window"]) == ("1468", "32")


def test_a_lock_step_server_gives_window_1_without_a_fallback(make_tree: Callable[..., Path]):
    _, recorder = netboot(make_tree(), tftp_max_window=1)
    assert transfers(recorder)["kernel"].fields["window"] == "1"
    assert fallbacks(recorder) == []


@pytest.mark.parametrize("stack", STACKS)
def test_a_refused_window_falls_back_to_lock_step(stack: str, make_tree: Callable[..., Path]):
    faults = FaultPlan(refuse_options={KERNEL: "windowsize"})
    _, recorder = netboot(make_tree(policy={"net-stack": stack}), faults=faults)
    assert fallbacks(recorder) == [
        "tftp: TFTP error: option negotiation refused; asking again without a window"
    ]
    line = transfers(recorder)["kernel"]
    assert (line.fields["via"], line.fields["blksize"], line.fields["window"]) == (
        STACKS[stack], "16384", "1",
    )  # fmt: skip
    assert transfers(recorder)["initrd"].fields["window"] == "8"  # only the kernel was refused


@pytest.mark.parametrize("stack", STACKS)
def test_refused_options_fall_back_down_to_plain_blocks(
    stack: str, make_tree: Callable[..., Path]
) -> None:
    faults = FaultPlan(refuse_options={KERNEL: "windowsize,blksize"})
    _, recorder = netboot(make_tree(policy={"net-stack": stack}), faults=faults)
    refused = "tftp: TFTP error: option negotiation refused"
    assert fallbacks(recorder) == [
        f"{refused}; asking again without a window",
        f"{refused}; asking again with blksize 1468",
        f"{refused}; asking again with plain 512-byte blocks",
    ]
    line = transfers(recorder)["kernel"]
    assert (line.fields["via"], line.fields["blksize"], line.fields["window"]) == (
        STACKS[stack], "512", "1",
    )  # fmt: skip
    assert recorder.steps("loaded")[0].fields["sha256"] == "ok"


@pytest.mark.parametrize("stack", STACKS)
def test_lost_packets_are_recovered_and_verified(stack: str, make_tree: Callable[..., Path]):
    root = make_tree(policy={"tftp-blksize": "1468", "net-stack": stack})
    _, recorder = netboot(root, faults=FaultPlan(drop_every={KERNEL: 97}))
    done = next(e for e in recorder.transfers("done") if e.filename == KERNEL)
    assert done.retransmits > 0
    assert transfers(recorder)["kernel"].fields["via"] == STACKS[stack]
    assert recorder.steps("loaded")[0].fields["sha256"] == "ok"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(("server", "window"), [("atftpd", "8"), ("dnsmasq", "1")])
def test_peer_servers_serve_the_same_boot(
    server: str, window: str, stack: str, make_tree: Callable[..., Path]
) -> None:
    if server == "atftpd":
        require_tool("atftpd")
    _, recorder = netboot(make_tree(policy={"net-stack": stack}), tftp_server=server)
    line = transfers(recorder)["kernel"]
    assert line.fields["via"] == STACKS[stack]
    # dnsmasq 2.90 answers blksize and tsize but not windowsize: lock-step.
    assert line.fields["window"] == window


def test_own_path_refused_falls_back_to_the_firmware_once(make_tree: Callable[..., Path]) -> None:
    """The server's interface stops answering ARP once the stub is served: the stub's own
    path finds no next hop, says so once, and the firmware's stack (whose ARP cache still
    holds the server) fetches both files, verified."""
    faults = FaultPlan(arp_silent_after=["EFI/BOOT/BOOTX64.EFI"])
    _, recorder = netboot(make_tree(), faults=faults)
    warnings = [(s.subject, s.reason) for s in recorder.steps("warning")]
    assert warnings == [
        ("net", "no ARP reply from the next hop; using the firmware's network stack")
    ], warnings
    assert [transfers(recorder)[what].fields["via"] for what in ("kernel", "initrd")] == [
        "mtftp4", "mtftp4",
    ]  # fmt: skip
    assert [s.fields["sha256"] for s in recorder.steps("loaded")] == ["ok", "ok"]
