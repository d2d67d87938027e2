"""Measured boot, proven with a software TPM: the PCR 11 the kernel reads equals what
`workbench pcrs` predicts from the file, for our stub (thin, local and net; fat) and for a
systemd-stub UKI; an edited command line moves both the same way. The prediction is also
checked against systemd-measure, and against the TPM event log the guest reads from securityfs:
the same events, the same digests, the same UTF-16 event data as systemd-stub writes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require, require_file, require_tool
from lab_support import Recorder, assert_nothing_left

from workbench import contract
from workbench.eventlog import EV_IPL, EventLog, parse
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, Outcome
from workbench.pcrs import PcrPrediction, predict
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
SYSTEMD_MEASURE = Path("/usr/lib/systemd/systemd-measure")
OSREL = b"ID=workbench-test\n"
CMDLINE = "console=ttyS0 panic=-1"
BANKS = ("sha256", "sha384", "sha1")
# Made-up contents: neither stub interprets them before measuring (systemd-stub 252 tries to
# install the devicetree and, with no devicetree on x86 OVMF, goes on without it).
EXTRA_SECTIONS = {".dtbauto": b"\xd0\x0d\xfe\xed made-up devicetree", ".hwids": b"made-up hwids",
                  ".efifw": b"made-up firmware"}  # fmt: skip
EMPTY_SECTION = ".splash"  # added with no bytes: VirtualSize 0
EVENTLOG_PREFIX = "WORKBENCH-EVENTLOG "
# Printed by the variant /init before the marker: the event log as base64 lines.
EVENTLOG_INIT = """/bin/busybox mkdir -p /sys/kernel/security
/bin/busybox mount -t securityfs securityfs /sys/kernel/security
log=/sys/kernel/security/tpm0/binary_bios_measurements
[ -r "$log" ] && /bin/busybox base64 "$log" | while read -r line; do
    echo "WORKBENCH-EVENTLOG $line"
done
"""


def predicted(root: Path, bank: str = "sha256") -> str:
    with PeImage.open(root / contract.BOOT_PATH) as image:
        return predict(image, (bank,)).banks[bank]["11"]


def tpm_boot(root: Path, mode: str = "local") -> tuple[Outcome, Recorder]:
    require_tool("swtpm")
    require_tool("qemu-system-x86_64")
    if mode == "net":
        require_tool("dnsmasq")
        require(os.path.exists("/dev/net/tun"), "/dev/net/tun for the lab's tap device")
    recorder = Recorder()
    request = BootRequest(root=root, mode=mode, expect=contract.SAMPLE_MARKER,  # type: ignore[arg-type]
                          timeout=150, tpm=True)  # fmt: skip
    outcome = boot(request, recorder)
    assert_nothing_left(recorder)
    return outcome, recorder


@pytest.fixture(scope="module")
def eventlog_initrd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample initramfs, its /init printing the TPM event log before the marker."""
    busybox = require_file(Path("/bin/busybox"))
    init = (REPO / "samples" / "init.sh").read_text()
    marker = f'echo "{contract.SAMPLE_MARKER}'
    assert init.count(marker) == 1, "samples/init.sh prints the marker once"
    directory = tmp_path_factory.mktemp("eventlog-initrd")
    script = directory / "init.sh"
    script.write_text(init.replace(marker, EVENTLOG_INIT + marker))
    spec = importlib.util.spec_from_file_location(
        "make_initrd", REPO / "samples" / "make_initrd.py"
    )
    assert spec is not None and spec.loader is not None
    make_initrd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_initrd)
    out = directory / "initrd.img"
    out.write_bytes(gzip.compress(make_initrd.build_initrd(busybox, script), mtime=0))
    return out


def guest_event_log(recorder: Recorder) -> EventLog:
    lines = [line[len(EVENTLOG_PREFIX) :].strip() for line in recorder.serial().splitlines()
             if line.startswith(EVENTLOG_PREFIX)]  # fmt: skip
    assert lines, "the guest printed no event log"
    return parse(base64.b64decode("".join(lines)))


def assert_log_is_the_prediction(
    log: EventLog, prediction: PcrPrediction, outcome: Outcome
) -> None:
    """Every PCR 11 event as predicted: EV_IPL, digest per bank, event data (UTF-16 name)."""
    events = log.of_pcr(11)
    assert [(e.type, e.data) for e in events] == [
        (EV_IPL, bytes.fromhex(p.event_data)) for p in prediction.events
    ]
    assert [e.utf16_text() for e in events] == [p.section for p in prediction.events]
    for logged, predicted_event in zip(events, prediction.events, strict=True):
        for bank in BANKS:
            assert logged.digests[bank] == predicted_event.digests[bank], predicted_event
    assert outcome.pcrs is not None
    for bank in BANKS:
        assert log.replay(11, bank) == outcome.pcrs["measured"][bank]["11"]
        assert log.replay(11, bank) == prediction.banks[bank]["11"]


def uki_tree(directory: Path, kernel: Path, initrd: Path) -> Path:
    stub = directory / contract.BOOT_PATH
    stub.parent.mkdir(parents=True)
    rewrite_sections(SYSTEMD_STUB, {contract.OSREL: OSREL, contract.CMDLINE: CMDLINE.encode(),
                                    contract.INITRD: initrd.read_bytes(),
                                    contract.KERNEL: kernel.read_bytes()}, out=stub)  # fmt: skip
    return directory


@pytest.mark.boot
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("flavour", "mode"), [("thin", "local"), ("thin", "net"), ("fat", "local"), ("uki", "local")]
)
def test_pcr11_in_the_guest_is_the_prediction(
    flavour: str, mode: str, make_tree: Callable[..., Path], sample_kernel: Path,
    sample_initrd: Path, tmp_path: Path,
) -> None:  # fmt: skip
    if flavour == "uki":
        require_file(SYSTEMD_STUB)
        root = uki_tree(tmp_path / "uki", sample_kernel, sample_initrd)
    else:
        root = make_tree(CMDLINE, fat=flavour == "fat")
    outcome, recorder = tpm_boot(root, mode)
    assert outcome.ok and outcome.kind == "booted", outcome
    assert outcome.reason.endswith("PCR 11 as predicted")
    assert outcome.pcrs is not None
    for bank in ("sha256", "sha384", "sha1"):
        assert outcome.pcrs["measured"][bank]["11"] == predicted(root, bank)
    if flavour != "uki":
        events = recorder.steps("measured")[0]
        with PeImage.open(root / contract.BOOT_PATH) as image:
            assert events.fields["events"] == str(len(predict(image).events))


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_an_edited_command_line_moves_prediction_and_measurement_alike(
    make_tree: Callable[..., Path],
) -> None:
    root = make_tree(CMDLINE)
    before = predicted(root)
    rewrite_sections(root / contract.BOOT_PATH, {contract.CMDLINE: b"console=ttyS0 panic=-1 x=1"})
    after = predicted(root)
    assert after != before
    outcome, _ = tpm_boot(root)
    assert outcome.ok, outcome
    assert outcome.pcrs is not None and outcome.pcrs["measured"]["sha256"]["11"] == after


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_a_wrong_prediction_is_a_pcr_mismatch(make_tree: Callable[..., Path]) -> None:
    """The check can fail: boot a tree, then change the stub the prediction reads."""
    root = make_tree(CMDLINE)
    stub = root / contract.BOOT_PATH
    original = stub.read_bytes()

    class Swap(Recorder):
        def __call__(self, event: Event) -> None:
            super().__call__(event)
            if "WORKBENCH-PCR" in getattr(event, "text", "") and stub.read_bytes() == original:
                rewrite_sections(stub, {contract.CMDLINE: b"changed after the boot"})

    recorder = Swap()
    outcome = boot(BootRequest(root=root, mode="local", expect=contract.SAMPLE_MARKER,
                               timeout=150, tpm=True), recorder)  # fmt: skip
    assert not outcome.ok and outcome.kind == "pcr-mismatch", outcome
    assert "PCR 11 (sha256) is" in outcome.reason


def test_the_uki_prediction_agrees_with_systemd_measure(sample_kernel: Path,
                                                        sample_initrd: Path,
                                                        tmp_path: Path) -> None:  # fmt: skip
    """systemd-measure (Debian's 252) prints PCR 11 after the boot phases are measured too;
    its first value is ours extended with SHA-256("enter-initrd")."""
    require_file(SYSTEMD_MEASURE)
    require_file(SYSTEMD_STUB)
    root = uki_tree(tmp_path / "uki", sample_kernel, sample_initrd)
    (tmp_path / "osrel").write_bytes(OSREL)
    (tmp_path / "cmdline").write_text(CMDLINE)
    result = subprocess.run(
        [str(SYSTEMD_MEASURE), "calculate", f"--linux={sample_kernel}",
         f"--osrel={tmp_path / 'osrel'}", f"--cmdline={tmp_path / 'cmdline'}",
         f"--initrd={sample_initrd}", "--bank=sha256", "--json=short"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    first = json.loads(result.stdout)["sha256"][0]
    assert first["phase"] == "enter-initrd"
    ours = bytes.fromhex(predicted(root))
    assert (
        hashlib.sha256(ours + hashlib.sha256(b"enter-initrd").digest()).hexdigest()
        == (first["hash"])
    )


def test_pcrs_command_json(make_tree: Callable[..., Path]) -> None:
    root = make_tree(CMDLINE)
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "pcrs", str(root / contract.BOOT_PATH),
         "--bank", "sha256", "--bank", "sha1", "--json", "--root", str(root)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    document = json.loads(result.stdout)
    assert set(document) == {"sha256", "sha1"}
    assert document["sha256"]["11"] == predicted(root)
    assert document["sha256"]["12"] == "0" * 64
    assert result.stderr == ""


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_a_uki_with_extra_and_empty_sections_is_measured_as_its_systemd_stub_does(
    sample_kernel: Path, eventlog_initrd: Path, tmp_path: Path
) -> None:
    """Debian's systemd-stub 252 measures `.linux .osrel .cmdline .initrd .splash .dtb .pcrpkey`,
    finds a section by prefix (so `.dtbauto` is its `.dtb`), skips VirtualSize 0, and knows
    nothing of `.hwids`/`.efifw`. The guest's PCR 11 and event log say exactly that."""
    require_file(SYSTEMD_STUB)
    require_file(SYSTEMD_MEASURE)
    stub = tmp_path / "uki" / contract.BOOT_PATH
    stub.parent.mkdir(parents=True)
    # No `.osrel`: Debian's stub has header room for only 7 more sections.
    rewrite_sections(SYSTEMD_STUB, {contract.KERNEL: sample_kernel.read_bytes(),
                                    contract.CMDLINE: CMDLINE.encode(),
                                    contract.INITRD: eventlog_initrd.read_bytes(),
                                    **EXTRA_SECTIONS, EMPTY_SECTION: b""}, out=stub)  # fmt: skip
    with PeImage.open(stub) as image:
        prediction = predict(image, BANKS)
    assert prediction.scheme.startswith("systemd-stub 252")
    assert [e.section for e in prediction.events if e.part == "name"] == [
        ".linux", ".cmdline", ".initrd", ".dtb"]  # fmt: skip
    outcome, recorder = tpm_boot(tmp_path / "uki")
    assert outcome.ok and outcome.reason.endswith("PCR 11 as predicted"), outcome
    assert_log_is_the_prediction(guest_event_log(recorder), prediction, outcome)
    # systemd-measure 252 computes the same from the files (`.dtbauto`'s bytes as its --dtb),
    # then extends the enter-initrd phase.
    dtb = tmp_path / "dtb"
    dtb.write_bytes(EXTRA_SECTIONS[".dtbauto"])
    (tmp_path / "cmdline").write_text(CMDLINE)
    result = subprocess.run(
        [str(SYSTEMD_MEASURE), "calculate", f"--linux={sample_kernel}",
         f"--cmdline={tmp_path / 'cmdline'}", f"--initrd={eventlog_initrd}", f"--dtb={dtb}",
         "--bank=sha256", "--json=short"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    first = json.loads(result.stdout)["sha256"][0]
    assert first["phase"] == "enter-initrd"
    assert outcome.pcrs is not None
    ours = bytes.fromhex(outcome.pcrs["measured"]["sha256"]["11"])
    assert (
        hashlib.sha256(ours + hashlib.sha256(b"enter-initrd").digest()).hexdigest()
        == (first["hash"])
    )


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_our_stub_with_extra_and_empty_sections_measures_in_systemds_order(
    make_tree: Callable[..., Path], eventlog_initrd: Path
) -> None:
    """Our fat stub: systemd's order (`.dtbauto .hwids .efifw` after `.pcrpkey .profile`),
    the empty section skipped, UTF-16 event data; PCR 11 and the event log as predicted."""
    root = make_tree(CMDLINE, fat=True, initrd=eventlog_initrd)
    stub = root / contract.BOOT_PATH
    rewrite_sections(stub, {**EXTRA_SECTIONS, EMPTY_SECTION: b""})
    with PeImage.open(stub) as image:
        prediction = predict(image, BANKS)
    names = [e.section for e in prediction.events if e.part == "name"]
    assert EMPTY_SECTION not in names
    assert names[names.index(".dtbauto") :][:3] == [".dtbauto", ".hwids", ".efifw"]
    assert names.index(".dtbauto") > names.index(".sbat")
    outcome, recorder = tpm_boot(root)
    assert outcome.ok and outcome.reason.endswith("PCR 11 as predicted"), outcome
    assert recorder.steps("measured")[0].fields["events"] == str(len(prediction.events))
    assert_log_is_the_prediction(guest_event_log(recorder), prediction, outcome)
