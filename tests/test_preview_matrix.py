"""The preview is the stub's logic, not a guess: each case is predicted, then really booted.

Every case runs through `preview` and through a real QEMU/OVMF boot from a local ESP, by PXE and
TFTP, and by UEFI HTTP Boot; the two must agree on the outcome and, for a failure, on the exact
error line the stub prints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_file, require_tool
from lab_support import firmware_stalled

from workbench import contract
from workbench.arch import AARCH64
from workbench.builder import build_tree, file_sha256
from workbench.explain import explain_log, render
from workbench.lab.boot import BootRequest, boot
from workbench.lab.console import parse_stub_line
from workbench.pe.edit import rewrite_sections
from workbench.preview import preview


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def good(root: Path) -> None:
    pass


def missing_kernel(root: Path) -> None:
    (root / "EFI/Linux/vmlinuz").unlink()


def tampered_initrd(root: Path) -> None:
    _flip(root / "EFI/Linux/initrd.img")


def wrong_case_path(root: Path) -> None:
    rewrite_sections(root / contract.BOOT_PATH, {contract.KERNEL: b"\\efi\\linux\\VMLINUZ"})


def url_path(root: Path) -> None:
    """The kernel names its TFTP server explicitly: fine over the network, an error from a disk."""
    url = b"tftp://10.0.2.2/EFI/Linux/vmlinuz"
    rewrite_sections(root / contract.BOOT_PATH, {contract.KERNEL: url})


def relative_path(root: Path) -> None:
    """No leading separator: from the ESP's root locally and over TFTP, beside the stub's own
    URL over HTTP (where no kernel is)."""
    rewrite_sections(root / contract.BOOT_PATH, {contract.KERNEL: b"EFI\\Linux\\vmlinuz"})


def tftp_url6_path(root: Path) -> None:
    """An IPv6 TFTP server named in the path: reachable only after a PXE boot over IPv6."""
    url = b"tftp://[fd00::2]/EFI/Linux/vmlinuz"
    rewrite_sections(root / contract.BOOT_PATH, {contract.KERNEL: url})


# name: (change after building, build options)
CASES: dict[str, tuple[Callable[[Path], None], dict[str, object]]] = {
    "good": (good, {}),
    "missing-kernel": (missing_kernel, {}),
    "tampered-initrd": (tampered_initrd, {}),
    "wrong-case-path": (wrong_case_path, {}),
    "tftp-url-path": (url_path, {}),
    "tftp-url6-path": (tftp_url6_path, {}),
    "forced-source-net": (good, {"policy": {"source": "net"}}),
    "forced-source-http": (good, {"policy": {"source": "http"}}),
    "relative-path": (relative_path, {}),
    "fat": (good, {"fat": True}),
}


# Cases that only tell something on some transports run there alone.
ONLY = {"forced-source-http": ("local", "http"), "relative-path": ("http",),
        "tftp-url6-path": ("net", "net6")}  # fmt: skip
PAIRS = [(case, mode) for case in CASES for mode in ONLY.get(case, ("local", "net", "http"))]
# Over IPv6 only the server's address differs, and a tftp://10.x path cannot be reached.
PAIRS += [("good", "net6"), ("missing-kernel", "net6"), ("tftp-url-path", "net6"),
          ("good", "http6"), ("missing-kernel", "http6")]  # fmt: skip


@pytest.mark.boot
@pytest.mark.timeout(330)
@pytest.mark.parametrize(("case", "mode"), PAIRS, ids=[f"{c}-{m}" for c, m in PAIRS])
def test_preview_agrees_with_real_boot(case: str, mode: str, make_tree, tmp_path: Path) -> None:
    require_tool("qemu-system-x86_64")
    if mode != "local":
        require_tool("dnsmasq")
    change, options = CASES[case]
    root = make_tree(**options)
    change(root)

    _agrees(root / contract.BOOT_PATH, root, mode, tmp_path, timeout=150)


def _agrees(stub: Path, root: Path, mode: str, tmp_path: Path, timeout: float) -> None:
    """The real boot of `root` (its own EFI/BOOT/BOOT<ARCH>.EFI) ends as the preview says."""
    predicted = getattr(preview(stub, root), mode)
    request = BootRequest(root=root, mode=mode.removesuffix("6"), expect=contract.SAMPLE_MARKER,  # type: ignore[arg-type]
                          timeout=timeout, ipv6=mode.endswith("6"),
                          log=tmp_path / "serial.log")  # fmt: skip
    outcome = boot(request)
    if firmware_stalled(request, outcome):  # one more machine, once
        print(f"the firmware stalled, booting again: {outcome.reason}")
        outcome = boot(request)

    assert outcome.ok == predicted.boots, (predicted, outcome)
    if not predicted.boots:
        assert outcome.kind == "stub-error", outcome
        # The stub printed exactly the line the preview predicted, word for word.
        assert outcome.errors[0] == predicted.error_line
    # `workbench explain` reads the same outcome, and the same failure, from the recorded console.
    explained = explain_log(tmp_path / "serial.log")
    assert explained.exit_code == (0 if predicted.boots else 1), render(explained)
    if not predicted.boots:
        line = parse_stub_line(f"stub: {predicted.error_line}")
        failures = [a.failure for a in explained.attempts if a.failure and a.failure.line]
        assert line is not None and failures and failures[0].origin == "stub", render(explained)
        got = failures[0]
        assert (got.what, got.path, got.reason) == (line.subject, line.path, line.reason)


# -- arm64: the same predictions for an arm64 tree (EFI/BOOT/BOOTAA64.EFI, the arm64 sample) ----

ARM64_SAMPLES = REPO / "samples" / "build" / "aa64"
X86_KERNEL = REPO / "samples" / "build" / "vmlinuz"


def x86_kernel(root: Path) -> None:
    """The arm64 stub names an x86_64 kernel (with its right hash): it refuses it, in its words."""
    kernel = root / contract.LINUX_DIR / "vmlinuz-x86_64"
    kernel.write_bytes(require_file(X86_KERNEL).read_bytes())
    changes = {contract.KERNEL: b"\\EFI\\Linux\\vmlinuz-x86_64",
               contract.KERNEL_HASH: file_sha256(kernel)}  # fmt: skip
    rewrite_sections(root / AARCH64.boot_path, changes)


ARM64_CASES: dict[str, tuple[Callable[[Path], None], dict[str, object]]] = {
    "good": (good, {}),
    "missing-kernel": (missing_kernel, {}),
    "x86-kernel": (x86_kernel, {}),
    "fat": (good, {"fat": True}),
}
ARM64_PAIRS = [("good", "local"), ("good", "net"), ("good", "http"), ("missing-kernel", "local"),
               ("x86-kernel", "local"), ("x86-kernel", "net"), ("fat", "local")]  # fmt: skip


def make_arm64_tree(root: Path, **options: object) -> Path:
    build_tree(stub=None, kernel=require_file(ARM64_SAMPLES / "vmlinuz"),
               initrd=require_file(ARM64_SAMPLES / "initrd.img"),
               cmdline="console=ttyAMA0 panic=-1", out_dir=root,
               policy={"error-delay": "1"}, **options)  # type: ignore[arg-type]  # fmt: skip
    return root


@pytest.mark.boot
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("case", "mode"), ARM64_PAIRS, ids=[f"{c}-{m}" for c, m in ARM64_PAIRS])
def test_arm64_preview_agrees_with_real_boot(case: str, mode: str, tmp_path: Path) -> None:
    require_tool("qemu-system-aarch64")
    if mode != "local":
        require_tool("dnsmasq")
    change, options = ARM64_CASES[case]
    root = make_arm64_tree(tmp_path / "tree", **options)
    change(root)
    assert not (root / contract.BOOT_PATH).exists()  # the lab boots an arm64 machine
    # An arm64 guest under TCG is slower than an x86_64 one.
    _agrees(root / AARCH64.boot_path, root, mode, tmp_path, timeout=400)
