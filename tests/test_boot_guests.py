"""`boot --guests N`: several machines at once in one network lab, an outcome each.

The pieces without QEMU first (MACs, refusals, attribution by address, the per-guest decisions
on scripted events, the output); then two real runs: three guests netboot the sample tree, and
two where the first kernel request fails for exactly one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lab_support import require_net_lab

from workbench import contract
from workbench.cli import main
from workbench.commands.boot import describe_guest
from workbench.errors import WorkbenchError
from workbench.lab import boot as boot_module
from workbench.lab.boot import BootRequest, BootRun
from workbench.lab.events import (
    Event,
    LabFailed,
    LabNote,
    MachineExit,
    Outcome,
    RemoteLine,
    Reset,
    SerialLine,
    StubStep,
    Transfer,
    event_from_dict,
)
from workbench.lab.faults import FaultPlan
from workbench.lab.guests import GuestAddresses, check_guests, guest_mac, summary
from workbench.lab.qemu import MachineSpec, build_command
from workbench.lab.request import ShimOptions

KERNEL = "EFI/Linux/vmlinuz"
MARKER = contract.SAMPLE_MARKER
ACK = "dnsmasq: DHCPACK(br0) {address} {mac}"


# -- the pieces -----------------------------------------------------------------------------


def test_guest_macs_start_at_qemus_own() -> None:
    assert guest_mac(0) == "52:54:00:12:34:56"
    assert guest_mac(1) == "52:54:00:12:34:57"
    assert guest_mac(15) == "52:54:00:12:34:65"
    assert len({guest_mac(i) for i in range(16)}) == 16


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"guests": 0}, "--guests must be 1 to 16, not 0"),
        ({"guests": 17}, "--guests must be 1 to 16, not 17"),
        ({"mode": "local"}, "--guests needs --mode net or --mode http"),
        ({"tpm": True}, "--guests with --tpm"),
        ({"shim": ShimOptions()}, "--guests with --shim"),
        ({"faults": FaultPlan(link_loss_percent=5)}, "link faults"),
        ({"faults": FaultPlan(arp_silent_after=[KERNEL])}, "link faults"),
    ],
)
def test_what_several_guests_cannot_do_is_refused(changes: dict, message: str) -> None:
    request = BootRequest(root=Path("/nonexistent"), mode="net", guests=2)
    for name, value in changes.items():
        setattr(request, name, value)
    with pytest.raises(WorkbenchError, match=re.escape(message)):
        check_guests(request)


def test_one_guest_and_server_faults_are_fine() -> None:
    check_guests(BootRequest(root=Path("/x"), mode="local", tpm=True, shim=ShimOptions()))
    check_guests(BootRequest(root=Path("/x"), mode="http", guests=16,
                             faults=FaultPlan(fail_first={KERNEL: 1})))  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mode", "net", "--guests", "0"], "--guests must be 1 to 16, not 0"),
        (["--mode", "net", "--guests", "17"], "--guests must be 1 to 16, not 17"),
        (["--guests", "2"], "--guests needs --mode net or --mode http"),
        (["--mode", "net", "--guests", "3", "--tpm"], "--guests with --tpm"),
    ],
)
def test_the_command_refuses_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    (tmp_path / contract.BOOT_PATH).parent.mkdir(parents=True)
    (tmp_path / contract.BOOT_PATH).write_bytes(b"MZ")
    assert main(["boot", str(tmp_path), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_addresses_come_from_dhcp_acks_and_syslog_hostnames() -> None:
    addresses = GuestAddresses(3)
    addresses.learn_note(ACK.format(address="10.0.2.41", mac="52:54:00:12:34:57"))
    addresses.learn_note("dnsmasq: DHCPOFFER(br0) 10.0.2.42 52:54:00:12:34:58")  # not an ACK
    addresses.learn_note(ACK.format(address="10.0.2.43", mac="52:54:00:99:99:99"))  # not ours
    transfer = Transfer(KERNEL, "10.0.2.41", "done", guest=None)
    addresses.attribute(transfer)
    assert transfer.guest == 1
    stranger = Transfer(KERNEL, "10.0.2.42", "done", guest=None)
    addresses.attribute(stranger)
    assert stranger.guest is None  # left the lab's
    line = RemoteLine("10.0.2.42", "stub: x", hostname="52:54:00:12:34:58", guest=None)
    addresses.attribute(line)
    assert line.guest == 2
    assert addresses.addresses == {1: "10.0.2.41", 2: "10.0.2.42"}


def test_dhcpv6_replies_name_the_mac_in_the_duid() -> None:
    addresses = GuestAddresses(2)
    duid_llt = "00:01:00:01:31:ea:a9:16:52:54:00:12:34:57"
    addresses.learn_note(f"dnsmasq: DHCPADVERTISE(br0) fd00::1f {duid_llt}")  # not bound yet
    assert addresses.owner("fd00::1f") is None
    addresses.learn_note(f"dnsmasq: DHCPREPLY(br0) fd00::3a {duid_llt}")
    addresses.learn_note("dnsmasq: DHCPREPLY(br0) fd00::21 00:03:00:01:52:54:00:12:34:56")
    assert addresses.addresses == {0: "fd00::21", 1: "fd00::3a"}


def test_summary_is_ok_only_when_every_guest_is() -> None:
    booted = [Outcome(ok=True, kind="booted", reason="r", seconds=1.0, guest=i) for i in (0, 1)]
    assert summary(booted, 2.0).ok
    assert summary(booted, 2.0).guest is None
    failed = Outcome(ok=False, kind="stub-error", reason="e", seconds=1.5, errors=["error: x"],
                     guest=2)  # fmt: skip
    result = summary([*booted, failed], 2.0)
    assert not result.ok and result.kind == "stub-error"
    assert result.reason == "2 of 3 guests reached the goal; failed: g2 stub-error"
    assert result.errors == ["g2: error: x"]


def test_guest_zero_leaves_the_json_as_it_was() -> None:
    line = SerialLine("hello", t=1.0)
    assert line.to_dict() == {"type": "SerialLine", "t": 1.0, "text": "hello"}
    assert SerialLine("hello", guest=2).to_dict()["guest"] == 2
    assert Transfer(KERNEL, "10.0.2.41", "done", guest=None).to_dict()["guest"] is None
    for event in (SerialLine("x", guest=3), Reset(by_guest=False, guest=1), line,
                  Transfer(KERNEL, "c", "done", guest=None)):  # fmt: skip
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_each_guest_nic_gets_its_mac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.lab.firmware import Firmware

    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    monkeypatch.setattr("workbench.lab.qemu.qemu_binary", lambda arch=None: "qemu-system-x86_64")
    firmware = Firmware(tmp_path / "C.fd", tmp_path / "V.fd", False, tmp_path / "d.json")
    base = {"firmware": firmware, "vars_path": tmp_path / "v.fd", "qmp_path": tmp_path / "q"}
    one = build_command(MachineSpec(**base, tap_device="tap0"))  # type: ignore[arg-type]
    assert "virtio-net-pci,netdev=n0,bootindex=1,romfile=" in one
    two = build_command(MachineSpec(**base, tap_device="tap1", mac=guest_mac(1)))  # type: ignore[arg-type]
    assert "virtio-net-pci,netdev=n0,bootindex=1,romfile=,mac=52:54:00:12:34:57" in two


def test_human_lines_start_with_the_guest() -> None:
    assert describe_guest(SerialLine("stub: version=0.1.0", guest=2)) == "[g2] stub: version=0.1.0"
    assert describe_guest(LabNote("dnsmasq: x", guest=None)) == "[lab] dnsmasq: x"
    done = Outcome(ok=False, kind="timeout", reason="r", seconds=3.0, guest=None)
    assert describe_guest(done) == "summary: FAILED: r after 3.0s"


# -- the per-guest decisions, on scripted events (no QEMU) ---------------------------------


class ScriptedLab:
    """A lab that publishes a fixed list of events and records which guests the run stops."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.stopped: list[int] = []

    def start(self, publish: Callable[[Event], None]) -> None:
        for event in self.events:
            publish(event)

    def stop_guest(self, index: int) -> None:
        self.stopped.append(index)

    def stop(self) -> None:
        pass


def scripted_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, events: list[Event], **request: object
) -> tuple[BootRun, Outcome, list[Event], ScriptedLab]:
    lab = ScriptedLab(events)
    monkeypatch.setattr(boot_module, "validate", lambda request: None)
    monkeypatch.setattr(BootRun, "_make_lab", lambda self, firmware, workdir: lab)
    seen: list[Event] = []
    options = {"mode": "net", "expect": MARKER, "guests": 3, "timeout": 5.0, **request}
    run = BootRun(BootRequest(root=tmp_path, **options), seen.append)  # type: ignore[arg-type]
    return run, run.run(), seen, lab


def stub(text: str, guest: int) -> SerialLine:
    return SerialLine(f"stub: {text}", guest=guest)


def test_each_guest_is_decided_by_its_own_events(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events: list[Event] = [
        LabNote(ACK.format(address="10.0.2.41", mac=guest_mac(0)), guest=None),
        LabNote(ACK.format(address="10.0.2.42", mac=guest_mac(1)), guest=None),
        Transfer(KERNEL, "10.0.2.42", "failed", error="injected", guest=None),
        stub(f"error: kernel tftp://10.0.2.2/{KERNEL}: TFTP error: x status=EFI_TFTP_ERROR", 1),
        SerialLine(MARKER, guest=0),
        Reset(guest=1),
        SerialLine(MARKER, guest=1),  # too late: guest 1 is decided
        stub("starting kernel", 2),
        MachineExit(code=0, guest_shutdown=True, guest=2),
    ]
    run, result, seen, lab = scripted_run(monkeypatch, tmp_path, events,
                                          log=tmp_path / "console.log")  # fmt: skip
    assert [(o.guest, o.kind) for o in run.outcomes] == [
        (0, "booted"), (1, "stub-error"), (2, "exited")]  # fmt: skip
    assert not result.ok and result.guest is None and result.kind == "stub-error"
    assert sorted(lab.stopped) == [0, 1, 2]
    # The end: one outcome per guest in order, then the summary.
    assert [e.guest for e in seen[-4:] if isinstance(e, Outcome)] == [0, 1, 2, None]
    failed = next(e for e in seen if isinstance(e, Transfer))
    assert failed.guest == 1
    steps = [e for e in seen if isinstance(e, StubStep)]
    assert [s.guest for s in steps] == [1, 2]
    logs = {i: (tmp_path / f"console.log.g{i}").read_text() for i in range(3)}
    assert logs[0].startswith(MARKER) and "# outcome: booted" in logs[0]
    assert "stub: error: kernel" in logs[1] and MARKER not in logs[2].splitlines()
    assert not (tmp_path / "console.log").exists()


def test_a_lab_failure_ends_every_undecided_guest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events: list[Event] = [SerialLine(MARKER, guest=2), LabFailed("dnsmasq exited", guest=None)]
    run, result, _, _ = scripted_run(monkeypatch, tmp_path, events)
    assert [o.kind for o in run.outcomes] == ["lab-failed", "lab-failed", "booted"]
    assert result.reason == "1 of 3 guests reached the goal; failed: g0 lab-failed, g1 lab-failed"


def test_a_silent_guest_times_out_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events: list[Event] = [SerialLine(MARKER, guest=0), stub("source=net server=10.0.2.2", 1)]
    run, result, _, _ = scripted_run(monkeypatch, tmp_path, events, guests=2, timeout=0.5)
    assert [o.kind for o in run.outcomes] == ["booted", "timeout"]
    assert "stub: source=net" in run.outcomes[1].reason
    assert result.kind == "timeout"


# -- real boots ------------------------------------------------------------------------------


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(420)
def test_three_guests_netboot_at_once(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    require_net_lab()
    seen: list[Event] = []
    request = BootRequest(root=make_tree(), mode="net", expect=MARKER, guests=3, timeout=360,
                          log=tmp_path / "boot.log")  # fmt: skip
    run = BootRun(request, seen.append)
    result = run.run()
    assert result.ok, [o.reason for o in run.outcomes]
    assert [(o.guest, o.kind) for o in run.outcomes] == [(i, "booted") for i in range(3)]
    addresses = set()
    for index in range(3):
        serial = [e.text for e in seen if isinstance(e, SerialLine) and e.guest == index]
        assert any(line.startswith(MARKER) for line in serial)
        # The firmware names the guest's MAC and the address DHCP gave it.
        mac = guest_mac(index)
        assert any(f"MAC:{mac.replace(':', '').upper()}" in line for line in serial), mac
        station = [line.split()[-1] for line in serial if "Station IP address is" in line]
        assert len(station) == 1
        addresses.add(station[0])
        # Its own stub lines, and its transfers from that address only.
        steps = [e.raw for e in seen if isinstance(e, StubStep) and e.guest == index]
        assert "stub: source=net server=10.0.2.2" in steps
        assert any(s.startswith("stub: transfer kernel ") for s in steps)
        assert steps[-1] == "stub: starting kernel"
        done = [e for e in seen if isinstance(e, Transfer) and e.guest == index
                and e.state == "done"]  # fmt: skip
        assert {t.client for t in done} == {station[0]}
        assert [t.filename for t in done].count(KERNEL) == 1
        # The stub's console lines over syslog: from its address, its MAC as the hostname.
        remote = [e for e in seen if isinstance(e, RemoteLine) and e.guest == index]
        assert remote and {(r.source, r.hostname) for r in remote} == {(station[0], mac)}
        log = (tmp_path / f"boot.log.g{index}").read_text()
        assert MARKER in log and log.count("# outcome: booted") == 1
    assert len(addresses) == 3
    assert not [e for e in seen if isinstance(e, Transfer) and e.guest is None]


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(300)
def test_one_guest_fails_the_others_boot_and_the_run_fails(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    require_net_lab()
    # Only the first request for the kernel fails: whichever guest asks first gets it.
    arguments = ["--mode", "net", "--guests", "2", "--json", "--expect", MARKER,
                 "--timeout", "240", "--fail-first", f"{KERNEL}=1"]  # fmt: skip
    code = main(["boot", str(make_tree()), *arguments])
    assert code == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all("guest" in r for r in records)
    outcomes = [r for r in records if r["type"] == "Outcome"]
    assert [o["guest"] for o in outcomes] == [0, 1, None]
    failed = [o for o in outcomes[:2] if not o["ok"]]
    assert len(failed) == 1 and failed[0]["kind"] == "stub-error", outcomes
    loser = failed[0]["guest"]
    assert failed[0]["errors"][0].startswith(f"error: kernel tftp://10.0.2.2/{KERNEL}")
    assert outcomes[1 - loser]["ok"] and outcomes[1 - loser]["kind"] == "booted"
    assert not outcomes[2]["ok"]
    assert outcomes[2]["reason"] == f"1 of 2 guests reached the goal; failed: g{loser} stub-error"
    refused = [r for r in records if r["type"] == "Transfer" and r["state"] == "failed"]
    assert [(r["filename"], r["guest"]) for r in refused] == [(KERNEL, loser)]
    markers = [r["guest"] for r in records if r["type"] == "SerialLine"
               and r["text"].startswith(MARKER)]  # fmt: skip
    assert markers == [1 - loser]
