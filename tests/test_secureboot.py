"""Secure Boot, really enforced: our test keys enrolled in OVMF's Secure Boot build (SMM, secure
pflash). The firmware decides whether the stub may start; the stub then verifies what it loads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE, require, require_tool

from workbench import contract, keys
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.lab.console import parse_firmware_refusal
from workbench.lab.events import Event, Outcome, SerialLine, StubStep

# One Secure Boot run under TCG: ~11 s local, ~20 s net when alone; 50 s seen on a busy machine.
BOOT_TIMEOUT = 120
PYTEST_TIMEOUT = BOOT_TIMEOUT + 60


@pytest.fixture(scope="session")
def sb_keydir(make_keydir: Callable[[str], Path]) -> Path:
    return make_keydir("db")


@pytest.fixture(scope="session")
def stranger_keydir(make_keydir: Callable[[str], Path]) -> Path:
    return make_keydir("stranger")


@pytest.fixture(scope="session")
def sb_vars(sb_keydir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The enrolled store every run starts from (each run boots on its own copy of it)."""
    from workbench.lab.firmware import find_firmware

    require_tool("qemu-system-x86_64")
    try:
        firmware = find_firmware(secure_boot=True)
    except WorkbenchError as error:
        require(False, f"Secure Boot OVMF build: {error}")
        raise
    return keys.prepare_vars(
        sb_keydir, firmware.vars_template, tmp_path_factory.mktemp("sb-vars") / "vars.fd"
    )


@pytest.fixture
def make_sb_tree(
    tmp_path: Path, stub_efi: Path, sample_kernel: Path, sample_initrd: Path
) -> Callable[..., Path]:
    """A fresh tree whose stub is signed with KEYS (or left unsigned with keys=None)."""
    from workbench.builder import build_tree

    counter = iter(range(1000))

    def make(keydir: Path | None, cmdline: str = BASE_CMDLINE) -> Path:
        root = tmp_path / f"sbtree{next(counter)}"
        build_tree(
            stub=stub_efi,
            kernel=sample_kernel,
            initrd=sample_initrd,
            cmdline=cmdline,
            out_dir=root,
            policy={"error-delay": "1"},
            sign_keys=keydir,
        )
        return root

    return make


@dataclass
class Run:
    outcome: Outcome
    lines: list[str] = field(default_factory=list)
    steps: list[StubStep] = field(default_factory=list)

    def step(self, name: str) -> list[StubStep]:
        return [step for step in self.steps if step.step == name]

    def marker_line(self) -> str | None:
        found = [line for line in self.lines if contract.SAMPLE_MARKER in line]
        return found[0] if found else None

    def refusals(self) -> list[tuple[str, str, str]]:
        return [found for line in self.lines if (found := parse_firmware_refusal(line))]


def sb_boot(root: Path, vars_template: Path, mode: str = "local") -> Run:
    """Boot ROOT under enforced Secure Boot until the sample marker, a stub error, or the
    firmware refusing the first boot option (the runner ends the run there)."""
    from workbench.lab.boot import BootRequest, BootRun

    request = BootRequest(
        root=root,
        mode=mode,  # type: ignore[arg-type]
        expect=contract.SAMPLE_MARKER,
        timeout=BOOT_TIMEOUT,
        secure_boot=True,
        vars_template=vars_template,
    )
    lines: list[str] = []
    steps: list[StubStep] = []

    def on_event(event: Event) -> None:
        if isinstance(event, SerialLine):
            lines.append(event.text)
        elif isinstance(event, StubStep):
            steps.append(event)

    outcome = BootRun(request, on_event).run()
    return Run(outcome, lines, steps)


def assert_firmware_refused(run: Run) -> None:
    assert not run.outcome.ok, run.outcome
    assert run.step("version") == [], "the stub ran although the firmware should refuse it"
    assert run.marker_line() is None
    refused = run.refusals()
    assert refused, f"no refusal on the console; last lines: {run.lines[-5:]}"
    assert refused[0][0] == "Boot0001"  # the first boot option: our disk or NIC
    assert run.outcome.kind == "firmware-refused", run.outcome
    assert run.outcome.reason.startswith('the firmware refused Boot0001 "'), run.outcome


def flip_byte(path: Path, offset: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(data)


# --- no boots -------------------------------------------------------------------------------


def test_boot_cli_needs_both_secure_boot_and_keys(tmp_path: Path, sb_keydir: Path, capsys):
    assert main(["boot", str(tmp_path), "--secure-boot"]) == 2
    assert "--secure-boot needs --keys KEYDIR" in capsys.readouterr().err
    assert main(["boot", str(tmp_path), "--keys", str(sb_keydir)]) == 2
    assert "--keys only applies with --secure-boot" in capsys.readouterr().err
    assert main(["boot", str(tmp_path), "--secure-boot", "--keys", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run 'workbench keys init'" in err[0]


def test_signed_tree_is_ready_and_unsigned_is_not(make_sb_tree, sb_keydir, stranger_keydir):
    signed_stub = make_sb_tree(sb_keydir) / contract.BOOT_PATH
    readiness = keys.secure_boot_readiness(signed_stub, sb_keydir)
    assert readiness.ready and readiness.matches_keys is True, readiness
    assert not keys.secure_boot_readiness(signed_stub, stranger_keydir).ready
    unsigned = keys.secure_boot_readiness(make_sb_tree(None) / contract.BOOT_PATH, sb_keydir)
    assert (unsigned.signed, unsigned.ready) == (False, False)


def test_readiness_names_a_missing_hash_of_a_signed_thin_stub(make_sb_tree, sb_keydir) -> None:
    from workbench.pe.edit import rewrite_sections
    from workbench.pe.signing import sign

    stub = make_sb_tree(sb_keydir) / contract.BOOT_PATH
    rewrite_sections(stub, {contract.INITRD_HASH: None}, signed="drop")
    sign(stub, sb_keydir)
    readiness = keys.secure_boot_readiness(stub, sb_keydir)
    assert readiness.matches_keys is True and not readiness.ready
    assert readiness.problems == [
        "thin stub without a valid .initrdh: it refuses to load the initrd unverified"
    ]


# --- real Secure Boot boots -----------------------------------------------------------------


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_enrolled_store_starts_any_image_signed_with_db(
    tmp_path: Path, sb_keydir, sb_vars, sample_kernel, sample_initrd
) -> None:
    """The enrolment on its own, without our stub: a systemd-stub UKI signed with db boots."""
    from workbench.pe.edit import rewrite_sections
    from workbench.pe.signing import sign

    base = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
    require(base.is_file(), f"{base} (package systemd-boot-efi)")
    uki = tmp_path / "uki" / contract.BOOT_PATH
    uki.parent.mkdir(parents=True)
    cmdline = f"{BASE_CMDLINE} wb.sb=uki"
    sections = {
        contract.OSREL: b"ID=workbench-sample\n",
        contract.CMDLINE: cmdline.encode(),
        contract.INITRD: sample_initrd.read_bytes(),
        contract.KERNEL: sample_kernel.read_bytes(),
    }
    sign(rewrite_sections(base, sections, uki), sb_keydir)
    run = sb_boot(tmp_path / "uki", sb_vars)
    assert run.outcome.ok, (run.outcome, run.lines[-10:])
    assert run.marker_line() == f"{contract.SAMPLE_MARKER} cmdline={cmdline}"
    assert run.refusals() == []


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_signed_thin_stub_boots_locally_through_the_cli(make_sb_tree, sb_keydir, capsys) -> None:
    cmdline = f"{BASE_CMDLINE} wb.sb=local"
    root = make_sb_tree(sb_keydir, cmdline)
    argv = ["boot", str(root), "--secure-boot", "--keys", str(sb_keydir), "--json",
            "--expect", contract.SAMPLE_MARKER, "--timeout", str(BOOT_TIMEOUT)]  # fmt: skip
    status = main(argv)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    outcome = events[-1]
    assert (status, outcome["type"], outcome["kind"]) == (0, "Outcome", "booted"), outcome
    serial = [event["text"] for event in events if event["type"] == "SerialLine"]
    assert "stub: secureboot=enabled" in serial
    assert f"{contract.SAMPLE_MARKER} cmdline={cmdline}" in serial
    print(f"Secure Boot local boot to the marker: {outcome['seconds']:.1f}s")


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_signed_thin_stub_netboots(make_sb_tree, sb_keydir, sb_vars) -> None:
    require_tool("dnsmasq")
    cmdline = f"{BASE_CMDLINE} wb.sb=net"
    run = sb_boot(make_sb_tree(sb_keydir, cmdline), sb_vars, mode="net")
    assert run.outcome.ok, (run.outcome, run.lines[-10:])
    assert [s.fields.get("secureboot") for s in run.step("secureboot")] == ["enabled"]
    assert run.step("source")[0].fields.get("source") == "net"
    assert run.marker_line() == f"{contract.SAMPLE_MARKER} cmdline={cmdline}"
    print(f"Secure Boot netboot to the marker: {run.outcome.seconds:.1f}s")


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
@pytest.mark.parametrize(
    ("signer", "mode"),
    [
        ("unsigned", "local"),
        ("stranger", "local"),
        pytest.param("unsigned", "net", marks=pytest.mark.net),
    ],
)
def test_firmware_refuses_a_stub_not_signed_by_db(
    signer, mode, make_sb_tree, stranger_keydir, sb_vars
) -> None:
    if mode == "net":
        require_tool("dnsmasq")
    root = make_sb_tree(stranger_keydir if signer == "stranger" else None)
    run = sb_boot(root, sb_vars, mode=mode)
    assert_firmware_refused(run)
    expected_option = "UEFI PXEv4" if mode == "net" else "UEFI Non-Block Boot Device"
    assert run.refusals()[0][1].startswith(expected_option), run.refusals()
    print(f"firmware refusal ({signer}, {mode}) seen after {run.outcome.seconds:.1f}s")


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_stub_refuses_a_tampered_kernel_locally(make_sb_tree, sb_keydir, sb_vars) -> None:
    root = make_sb_tree(sb_keydir)
    flip_byte(root / contract.LINUX_DIR / "vmlinuz", 100_000)
    run = sb_boot(root, sb_vars)
    assert run.outcome.kind == "stub-error", (run.outcome, run.lines[-10:])
    assert [s.fields.get("secureboot") for s in run.step("secureboot")] == ["enabled"]
    assert run.step("error")[0].subject == "kernel", run.step("error")
    assert run.outcome.reset_after_error and run.marker_line() is None


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_stub_refuses_a_tampered_initrd_over_the_network(make_sb_tree, sb_keydir, sb_vars):
    require_tool("dnsmasq")
    root = make_sb_tree(sb_keydir)
    flip_byte(root / contract.LINUX_DIR / "initrd.img", 1000)
    run = sb_boot(root, sb_vars, mode="net")
    assert run.outcome.kind == "stub-error", (run.outcome, run.lines[-10:])
    assert run.step("source")[0].fields.get("source") == "net"
    assert run.step("error")[0].subject == "initrd", run.step("error")
    assert run.outcome.reset_after_error and run.marker_line() is None


@pytest.mark.boot
@pytest.mark.timeout(2 * PYTEST_TIMEOUT)
def test_stub_edited_after_signing_is_refused_until_signed_again(
    make_sb_tree, sb_keydir, sb_vars
) -> None:
    from workbench.pe.image import PeImage
    from workbench.pe.signing import sign

    root = make_sb_tree(sb_keydir, f"{BASE_CMDLINE} wb.sb=signed")
    stub = root / contract.BOOT_PATH
    # Edit the command line in place, bytes only: same length, signature left as it was.
    with PeImage.open(stub) as image:
        section = image.section(contract.CMDLINE)
        assert section is not None
        offset = section.raw_offset + image.section_data(section).index(b"wb.sb=signed")
    data = bytearray(stub.read_bytes())
    data[offset : offset + len("wb.sb=signed")] = b"wb.sb=edited"
    stub.write_bytes(data)
    assert keys.secure_boot_readiness(stub, sb_keydir).matches_keys is False

    assert_firmware_refused(sb_boot(root, sb_vars))

    sign(stub, sb_keydir)
    run = sb_boot(root, sb_vars)
    assert run.outcome.ok, (run.outcome, run.lines[-10:])
    assert run.marker_line() == f"{contract.SAMPLE_MARKER} cmdline={BASE_CMDLINE} wb.sb=edited"


def test_refusal_pattern_matches_what_ovmf_prints() -> None:
    # Captured from OVMF_CODE_4M.secboot.fd refusing an unsigned image from a virtio disk.
    line = (
        'BdsDxe: failed to load Boot0001 "UEFI Non-Block Boot Device" from '
        "PciRoot(0x0)/Pci(0x1,0x0): Access Denied"
    )
    assert parse_firmware_refusal(line) == (
        "Boot0001",
        "UEFI Non-Block Boot Device",
        "Access Denied",
    )
    assert parse_firmware_refusal('BdsDxe: loading Boot0001 "UEFI Non-Block Boot Device"') is None
