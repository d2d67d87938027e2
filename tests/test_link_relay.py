"""The lab's lossy, reordering link (workbench/lab/link_relay.py): the impairment's rates and
seeds, and boots across it, by the stub's own network path and by the firmware's, verified
byte for byte."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lab_support import Recorder, boot_in_lab, require_net_lab

from workbench.errors import BadInput
from workbench.lab.events import LabNote
from workbench.lab.faults import FaultPlan
from workbench.lab.firmware import Firmware
from workbench.lab.link_relay import Impairment, impairs_link
from workbench.lab.qemu import DgramLink, MachineSpec, build_command
from workbench.lab.request import BootMode, NetLabConfig

FRAMES = 100_000
HOLD = 0.005


def frames(count: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(count)]


def run_back_to_back(impairment: Impairment, count: int) -> list[bytes]:
    """Frames offered with no time between them, then the clock run past any hold."""
    sent = []
    for frame in frames(count):
        sent += impairment.offer(frame, 0.0)
    return sent + impairment.release_due(1.0)


RATES = [(1.0, 1.0), (5.0, 0.0), (0.0, 10.0), (20.0, 30.0)]


def within(seen: int, percent: float) -> bool:
    """Binomial: 5 standard deviations, at least 0.1 point; a fixed seed never flakes."""
    spread = max(0.1, 5 * (percent * (100 - percent) / FRAMES) ** 0.5)
    return abs(100 * seen / FRAMES - percent) <= spread


@pytest.mark.parametrize(("loss", "reorder"), RATES)
def test_verdicts_over_100k_frames_are_within_tolerance(loss: float, reorder: float) -> None:
    impairment = Impairment(loss, reorder, seed=7)
    verdicts = [impairment.decide() for _ in range(FRAMES)]
    assert within(verdicts.count("drop"), loss)
    assert within(verdicts.count("hold"), reorder)


@pytest.mark.parametrize(("loss", "reorder"), RATES)
def test_frames_dropped_and_reordered_over_100k_are_within_tolerance(
    loss: float, reorder: float
) -> None:
    impairment = Impairment(loss, reorder, seed=7)
    sent = run_back_to_back(impairment, FRAMES)
    counters = impairment.counters
    assert within(counters.dropped, loss), counters
    # One frame is held at a time: a hold while one is held passes. Back to back, the slot is
    # free at a frame's arrival with E = (1-d)/(1-d+h), so a share E*h of frames is reordered.
    d, h = loss / 100, reorder / 100
    assert within(counters.reordered, 100 * h * (1 - d) / (1 - d + h)), counters
    assert counters.passed + counters.reordered + counters.dropped == FRAMES
    assert len(sent) == FRAMES - counters.dropped


def test_same_seed_same_fate_other_seed_other_fate() -> None:
    first = run_back_to_back(Impairment(1, 1, seed=3), 10_000)
    again = run_back_to_back(Impairment(1, 1, seed=3), 10_000)
    other = run_back_to_back(Impairment(1, 1, seed=4), 10_000)
    assert first == again
    assert first != other


def test_a_held_frame_goes_after_the_next_one() -> None:
    impairment = Impairment(0, 100, seed=1)
    assert impairment.offer(b"a", 0.0) == []
    assert impairment.deadline() == pytest.approx(HOLD)
    assert impairment.offer(b"b", 0.001) == [b"b", b"a"]
    assert impairment.deadline() is None
    assert impairment.counters.reordered == 1


def test_a_held_frame_is_always_released_within_the_bound() -> None:
    """Frames at random times, the clock driven only to each deadline (as the relay's loop
    does): every frame not dropped goes out exactly once, none later than HOLD after it came."""
    impairment = Impairment(10, 30, seed=11)
    clock = random.Random(5)
    now, came, left = 0.0, {}, {}
    for frame in frames(20_000):
        now += clock.expovariate(1 / 0.004)  # gaps around the hold time
        deadline = impairment.deadline()
        if deadline is not None and deadline <= now:
            for due in impairment.release_due(deadline):
                left[due] = deadline
        came[frame] = now
        for out in impairment.offer(frame, now):
            assert out not in left
            left[out] = now
    deadline = impairment.deadline()
    if deadline is not None:
        for due in impairment.release_due(deadline):
            left[due] = deadline
    assert impairment.deadline() is None
    assert len(left) == len(came) - impairment.counters.dropped
    assert all(left[frame] - came[frame] <= HOLD + 1e-9 for frame in left)
    assert impairment.counters.reordered > 0


def test_a_frame_is_not_released_before_its_time() -> None:
    impairment = Impairment(0, 100, seed=1)
    impairment.offer(b"a", 1.0)
    assert impairment.release_due(1.0 + HOLD / 2) == []
    assert impairment.release_due(1.0 + HOLD) == [b"a"]


@pytest.mark.parametrize(("loss", "reorder"), [(-1, 0), (0, 101), (60, 50)])
def test_impossible_rates_are_refused(loss: float, reorder: float) -> None:
    with pytest.raises(BadInput):
        Impairment(loss, reorder, seed=1)


def firmware_at(path: Path) -> Firmware:
    return Firmware(code=path / "c", vars_template=path / "v", requires_smm=False,
                    description=path / "d")  # fmt: skip


def test_the_plan_crosses_into_the_lab_and_only_rates_impair(tmp_path: Path) -> None:
    plan = FaultPlan(link_loss_percent=1.5, link_reorder_percent=2, link_seed=9)
    assert impairs_link(plan) and plan
    config = NetLabConfig(root=tmp_path, workdir=tmp_path, firmware=firmware_at(tmp_path),
                          vars_path=tmp_path / "v", memory_mb=512, secure_boot=False,
                          faults=plan, tftp_server="workbench", tftp_max_window=64)  # fmt: skip
    assert NetLabConfig.from_json(config.to_json()).faults == plan
    # A seed alone is no fault: a run asks for no faults with it.
    assert not FaultPlan(link_seed=5) and not impairs_link(FaultPlan(link_seed=5))


def test_qemu_nic_goes_through_the_relay_sockets(tmp_path: Path) -> None:
    firmware = firmware_at(tmp_path)
    link = DgramLink(local=tmp_path / "g.sock", remote=tmp_path / "r.sock")
    spec = MachineSpec(firmware=firmware, vars_path=tmp_path / "v", qmp_path=tmp_path / "q",
                       tap_device="tap0", dgram_link=link)  # fmt: skip
    command = build_command(spec)
    netdev = command[command.index("-netdev") + 1]
    assert netdev == (f"dgram,id=n0,local.type=unix,local.path={link.local},"
                      f"remote.type=unix,remote.path={link.remote}")  # fmt: skip
    assert "tap" not in netdev


# Boots across the impaired link.

KERNEL_AND_INITRD = {"kernel", "initrd"}
LOSSY = FaultPlan(link_loss_percent=1.0, link_reorder_percent=1.0, link_seed=1)
COUNTERS = re.compile(r"(to-guest|to-lab) passed=(\d+) dropped=(\d+) reordered=(\d+)")


def link_counters(recorder: Recorder) -> dict[str, dict[str, int]]:
    """The relay's last counters the run saw, by direction."""
    notes = [e.text for e in recorder.events if isinstance(e, LabNote) and COUNTERS.search(e.text)]
    assert notes, "the link relay reported no counters"
    return {
        way: {"passed": int(p), "dropped": int(d), "reordered": int(r)}
        for way, p, d, r in COUNTERS.findall(notes[-1])
    }


def boot_across_the_lossy_link(
    root: Path, mode: BootMode, via: str
) -> tuple[Recorder, dict[str, dict[str, int]]]:
    require_net_lab()
    outcome, recorder = boot_in_lab(root, mode, faults=LOSSY, timeout=120)
    assert outcome.ok, (outcome.reason, recorder.serial()[-3000:])
    loaded = {step.subject: step.fields for step in recorder.steps("loaded")}
    assert set(loaded) == KERNEL_AND_INITRD
    assert all(fields["sha256"] == "ok" for fields in loaded.values()), loaded
    transfers = {step.subject: step.fields for step in recorder.steps("transfer")}
    assert {transfers[what]["via"] for what in KERNEL_AND_INITRD} == {via}
    counters = link_counters(recorder)
    # The link did impair this boot: otherwise the test proves nothing.
    assert sum(way["dropped"] for way in counters.values()) > 0, counters
    assert sum(way["reordered"] for way in counters.values()) > 0, counters
    print(f"{mode} via={via}: booted in {outcome.t:.1f}s, link {counters}")
    return recorder, counters


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(240)
def test_own_tftp_boots_byte_exact_across_a_lossy_reordering_link(
    make_tree: Callable[..., Path],
) -> None:
    boot_across_the_lossy_link(make_tree(), "net", "own-tftp")


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(240)
def test_own_http_boots_byte_exact_across_a_lossy_reordering_link(
    make_tree: Callable[..., Path],
) -> None:
    boot_across_the_lossy_link(make_tree(), "http", "own-http")


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(240)
def test_firmware_tftp_boots_byte_exact_across_a_lossy_reordering_link(
    make_tree: Callable[..., Path],
) -> None:
    boot_across_the_lossy_link(make_tree(policy={"net-stack": "firmware"}), "net", "mtftp4")
