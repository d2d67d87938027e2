"""Architectures everywhere: each command shows the stub's and the kernel's, a stub and a kernel
of different architectures is a finding (inspect, preview) or a refusal (set, build)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, require_file

from workbench import contract
from workbench.arch import AARCH64, X86_64
from workbench.builder import build_tree, choose_arch, file_sha256
from workbench.edits import write_stub
from workbench.errors import BadInput
from workbench.explain import explain_text
from workbench.kernel_arch import bytes_machine, file_machine, mix_problem, stub_refusal
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.preview import preview
from workbench.stubinfo import describe
from workbench.tui.overview import arch_text
from workbench.tui.preview_pane import note_text

SAMPLES = REPO / "samples" / "build"
ARM64_TREE = SAMPLES / "aa64" / "esp"
ARM64_FAT = SAMPLES / "aa64" / "esp-fat"
X86_TREE = SAMPLES / "esp"
MIX = "the kernel is arm64 but the stub is x86_64: the stub refuses it"
REFUSAL = "an aarch64 image, and this stub starts x86_64 kernels"


def workbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="session")
def stub_aa64() -> Path:
    return require_file(REPO / "stub" / "build" / "stubaa64.efi")


@pytest.fixture
def arm64_sample() -> Path:
    return require_file(ARM64_TREE / AARCH64.boot_path)


@pytest.fixture
def mixed_tree(tmp_path: Path, stub_efi: Path, stub_aa64: Path) -> Path:
    """An x86_64 thin stub whose kernel path and hash name an arm64 PE in its tree (the arm64
    stub stands in for an arm64 kernel: only its PE header matters)."""
    root = tmp_path / "mixed"
    build_tree(stub=stub_efi, kernel=stub_efi, initrd=None, cmdline="console=ttyS0",
               out_dir=root, kernel_name="vmlinuz")  # fmt: skip
    arm64 = root / contract.LINUX_DIR / "vmlinuz-arm64"
    shutil.copyfile(stub_aa64, arm64)
    changes = {contract.KERNEL: b"\\EFI\\Linux\\vmlinuz-arm64",
               contract.KERNEL_HASH: file_sha256(arm64)}  # fmt: skip
    rewrite_sections(root / X86_64.boot_path, changes)
    return root


@pytest.fixture
def mixed_fat(tmp_path: Path, stub_efi: Path, stub_aa64: Path) -> Path:
    """An x86_64 fat stub carrying an arm64 PE as its kernel, with the matching hash."""
    root = tmp_path / "mixed-fat"
    build_tree(stub=stub_efi, kernel=stub_efi, initrd=None, cmdline="console=ttyS0",
               out_dir=root, fat=True)  # fmt: skip
    changes = {contract.KERNEL: stub_aa64.read_bytes(),
               contract.KERNEL_HASH: file_sha256(stub_aa64)}  # fmt: skip
    rewrite_sections(root / X86_64.boot_path, changes)
    return root


# -- reading the machine -------------------------------------------------------------------------


def test_machines_of_files_and_bytes(stub_efi: Path, stub_aa64: Path, tmp_path: Path) -> None:
    assert file_machine(stub_efi) == X86_64.pe_machine
    assert file_machine(stub_aa64) == AARCH64.pe_machine
    assert bytes_machine(stub_aa64.read_bytes()) == AARCH64.pe_machine
    junk = tmp_path / "junk"
    junk.write_bytes(b"MZ" + b"\xff" * 100)
    assert file_machine(junk) is None and bytes_machine(b"MZ") is None
    assert file_machine(tmp_path / "absent") is None
    assert mix_problem(X86_64.pe_machine, AARCH64.pe_machine) == MIX
    assert stub_refusal(X86_64.pe_machine, AARCH64.pe_machine) == REFUSAL
    assert mix_problem(AARCH64.pe_machine, AARCH64.pe_machine) is None
    assert mix_problem(X86_64.pe_machine, None) is None  # not a PE: the stub's own words
    assert mix_problem(X86_64.pe_machine, 0x14C) is None  # i386: no stub of ours to compare


# -- inspect -------------------------------------------------------------------------------------


def test_inspect_shows_an_arm64_stub_and_kernel(arm64_sample: Path) -> None:
    result = workbench("inspect", str(arm64_sample))
    assert result.returncode == 0, result.stderr
    assert "arch:      arm64 stub, arm64 kernel" in result.stdout.splitlines()
    document = json.loads(workbench("inspect", "--json", str(arm64_sample)).stdout)
    assert (document["machine"], document["arch"]) == ("aarch64", "arm64")
    assert document["kernel"]["arch"] == "arm64" and document["initrd"]["arch"] is None
    assert document["warnings"] == []


def test_inspect_fat_reads_the_embedded_kernel() -> None:
    fat = require_file(ARM64_FAT / AARCH64.boot_path)
    with PeImage.open(fat) as image:
        info = describe(image, hashes=False)
    assert (info.arch, info.kernel and info.kernel.arch, info.arch_problem) == (
        "arm64", "arm64", None,
    )  # fmt: skip


def test_inspect_of_a_stub_outside_a_tree_knows_only_the_stub(stub_aa64: Path) -> None:
    lines = workbench("inspect", str(stub_aa64)).stdout.splitlines()
    assert "arch:      arm64 stub" in lines


def test_inspect_finds_a_mix(mixed_tree: Path, mixed_fat: Path) -> None:
    for root in (mixed_tree, mixed_fat):
        result = workbench("inspect", str(root / X86_64.boot_path))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "arch:      x86_64 stub, arm64 kernel" in lines
        assert f"warning:   {MIX}" in lines
        document = json.loads(workbench("inspect", "--json", str(root / X86_64.boot_path)).stdout)
        assert document["kernel"]["arch"] == "arm64" and MIX in document["warnings"]


# -- preview -------------------------------------------------------------------------------------


def test_preview_of_an_arm64_tree_predicts_the_arm64_boot(arm64_sample: Path) -> None:
    result = preview(arm64_sample, ARM64_TREE)
    assert (result.arch, result.kernel_arch, result.arch_problem) == ("arm64", "arm64", None)
    assert all(mode.boots for mode in result.modes()), result
    assert result.http.source == "http server=10.0.2.2 url=http://10.0.2.2/EFI/BOOT/BOOTAA64.EFI"
    assert result.local.files[0].looked_for == "\\EFI\\Linux\\vmlinuz"
    assert result.local.files[0].arch == "arm64"
    # The command finds the tree from BOOTAA64.EFI itself.
    text = workbench("preview", str(arm64_sample)).stdout.splitlines()
    assert text[0] == f"stub: {arm64_sample}  (workbench-thin, arm64 stub, arm64 kernel)"
    assert text[1] == f"root: {ARM64_TREE}"
    assert any("present, " in line and "sha256 ok, arm64" in line for line in text)


def test_preview_of_a_mix_fails_with_the_stubs_words(mixed_tree: Path) -> None:
    result = preview(mixed_tree / X86_64.boot_path, mixed_tree)
    assert result.arch_problem == MIX
    assert result.local.error_line == (
        f"error: kernel \\EFI\\Linux\\vmlinuz-arm64: {REFUSAL} status=EFI_LOAD_ERROR"
    )
    assert result.net.error_line == (
        f"error: kernel tftp://10.0.2.2/EFI/Linux/vmlinuz-arm64: {REFUSAL} status=EFI_LOAD_ERROR"
    )
    assert not any(mode.boots for mode in result.modes())
    text = workbench("preview", str(mixed_tree / X86_64.boot_path)).stdout.splitlines()
    assert f"warning: {MIX}" in text


def test_preview_of_a_fat_mix(mixed_fat: Path) -> None:
    result = preview(mixed_fat / X86_64.boot_path, mixed_fat)
    assert result.local.files[0].arch == "arm64"
    assert result.local.error_line == f"error: kernel (embedded): {REFUSAL} status=EFI_LOAD_ERROR"


# -- diff, pcrs, explain, the TUI's panes --------------------------------------------------------


def test_diff_names_both_architectures(arm64_sample: Path) -> None:
    x86 = require_file(X86_TREE / X86_64.boot_path)
    result = workbench("diff", str(x86), str(arm64_sample))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"--- {x86}  (x86_64 stub, x86_64 kernel)"
    assert lines[1] == f"+++ {arm64_sample}  (arm64 stub, arm64 kernel)"
    assert "~ arch: x86_64 -> arm64" in lines and "~ kernel.arch: x86_64 -> arm64" in lines


def test_pcrs_names_the_architecture(arm64_sample: Path) -> None:
    result = workbench("pcrs", str(arm64_sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["scheme: workbench", "arch: arm64 stub, arm64 kernel"]


def test_explain_hints_at_the_other_architecture() -> None:
    line = f"stub: error: kernel \\EFI\\Linux\\vmlinuz-arm64: {REFUSAL} status=EFI_LOAD_ERROR"
    [attempt] = explain_text(line).attempts
    assert attempt.failure is not None and attempt.failure.hint is not None
    assert "other architecture" in attempt.failure.hint


def test_the_tuis_panes_show_the_architectures(mixed_tree: Path) -> None:
    with PeImage.open(mixed_tree / X86_64.boot_path) as image:
        info = describe(image, hashes=False)
    assert arch_text(info).plain == "x86_64 stub, arm64 kernel"
    note = note_text(preview(mixed_tree / X86_64.boot_path, mixed_tree), "The saved stub.")
    assert note.plain == f"The saved stub. Arch: x86_64 stub, arm64 kernel.\n! {MIX}"


# -- set refuses a mix ---------------------------------------------------------------------------


def test_set_refuses_a_kernel_path_of_the_other_arch(tmp_path: Path, stub_efi: Path,
                                                     stub_aa64: Path) -> None:  # fmt: skip
    root = tmp_path / "tree"
    build_tree(stub=stub_efi, kernel=stub_efi, initrd=None, cmdline="console=ttyS0",
               out_dir=root, kernel_name="vmlinuz")  # fmt: skip
    shutil.copyfile(stub_aa64, root / contract.LINUX_DIR / "vmlinuz-arm64")
    stub = root / X86_64.boot_path
    before = stub.read_bytes()
    for extra in (["--rehash", str(root)], ["--kernel-hash", "00" * 32]):
        result = workbench("set", str(stub), "--kernel-path", "\\EFI\\Linux\\vmlinuz-arm64", *extra)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("workbench: error: ")
        assert "is an arm64 kernel" in result.stderr and "x86_64 stub" in result.stderr
        assert stub.read_bytes() == before
    # The kernel of its own architecture is fine.
    result = workbench("set", str(stub), "--kernel-path", "\\EFI\\Linux\\vmlinuz",
                       "--rehash", str(root))  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_write_stub_refuses_new_linux_bytes_of_the_other_arch(tmp_path: Path, stub_efi: Path,
                                                              stub_aa64: Path) -> None:  # fmt: skip
    root = tmp_path / "fat"
    build_tree(stub=stub_efi, kernel=stub_efi, initrd=None, cmdline="console=ttyS0",
               out_dir=root, fat=True)  # fmt: skip
    stub = root / X86_64.boot_path
    before = stub.read_bytes()
    with pytest.raises(BadInput, match=r"the new \.linux is an arm64 kernel"):
        write_stub(stub, {contract.KERNEL: stub_aa64.read_bytes()}, signing="drop")
    assert stub.read_bytes() == before
    # A kernel of its own architecture goes in (other bytes: a padded copy).
    write_stub(stub, {contract.KERNEL: stub_efi.read_bytes() + b"\0" * 16}, signing="drop")
    assert stub.read_bytes() != before


# -- build ---------------------------------------------------------------------------------------


def test_build_an_arm64_kernel_gives_bootaa64(tmp_path: Path, stub_aa64: Path) -> None:
    assert choose_arch(stub_aa64, None, None) == AARCH64
    result = workbench("build", "--kernel", str(stub_aa64), "--out-dir", str(tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t" / AARCH64.boot_path).is_file()
    assert not (tmp_path / "t" / X86_64.boot_path).exists()
    assert file_machine(tmp_path / "t" / AARCH64.boot_path) == AARCH64.pe_machine


def test_build_refuses_an_arch_mismatch(tmp_path: Path, stub_efi: Path, stub_aa64: Path) -> None:
    with pytest.raises(BadInput):
        choose_arch(stub_aa64, None, X86_64)
    with pytest.raises(BadInput):
        choose_arch(stub_aa64, stub_efi, None)
    for extra in (["--arch", "x86_64"], ["--stub", str(stub_efi)]):
        out = tmp_path / extra[0].strip("-")
        result = workbench("build", "--kernel", str(stub_aa64), "--out-dir", str(out), *extra)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("workbench: error: ")
        assert not out.exists() or not any(out.rglob("*.EFI"))


def test_version_names_both_stubs() -> None:
    result = workbench("--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("stub (x86_64): ") for line in lines), lines
    assert any(line.startswith("stub (aarch64): ") for line in lines), lines
