"""Measured boot, proven with a software TPM: the PCR 11 the kernel reads equals what
`workbench pcrs` predicts from the file, for our stub (thin, local and net; fat) and for a
systemd-stub UKI; an edited command line moves both the same way. The prediction is also
checked against systemd-measure."""

from __future__ import annotations

import hashlib
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
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Outcome
from workbench.pcrs import predict
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
SYSTEMD_MEASURE = Path("/usr/lib/systemd/systemd-measure")
OSREL = b"ID=workbench-test\n"
CMDLINE = "console=ttyS0 panic=-1"


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
        def __call__(self, event):  # type: ignore[no-untyped-def]
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
