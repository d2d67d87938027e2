"""`workbench diff` and `workbench extract`: real stubs built by the workbench and systemd's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_file

from workbench import contract
from workbench.compare import compare
from workbench.extract import extract_section
from workbench.pe.edit import rewrite_sections

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")


def workbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def stub_of(root: Path) -> Path:
    return root / contract.BOOT_PATH


def test_a_stub_against_itself_is_the_same(make_tree: Callable[..., Path]) -> None:
    stub = stub_of(make_tree())
    result = workbench("diff", str(stub), str(stub))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "identical"


def test_an_edited_command_line_is_named(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    stub = stub_of(make_tree("console=ttyS0 quiet"))
    edited = tmp_path / "edited.efi"
    rewrite_sections(stub, {contract.CMDLINE: b"console=ttyS0 debug"}, out=edited)
    result = workbench("diff", str(stub), str(edited))
    assert result.returncode == 1, result.stderr
    assert "~ section .cmdline  19 -> 19 bytes" in result.stdout
    assert "~ cmdline: console=ttyS0 quiet -> console=ttyS0 debug" in result.stdout
    document = json.loads(workbench("diff", str(stub), str(edited), "--json").stdout)
    assert document["same"] is False
    assert [f["field"] for f in document["fields"]] == ["cmdline"]
    assert [(s["name"], s["change"]) for s in document["sections"]] == [(".cmdline", "changed")]


def test_thin_against_fat_shows_flavour_sections_and_hashes(make_tree: Callable[..., Path]):
    thin, fat = stub_of(make_tree()), stub_of(make_tree(fat=True))
    comparison = compare(thin, fat)
    assert (comparison.flavour_a, comparison.flavour_b) == ("workbench-thin", "workbench-fat")
    names = {field.field for field in comparison.fields}
    assert {"kernel.path", "kernel.embedded_size"} <= names
    # The thin stub's kernel hash is the fat stub's kernel bytes' hash: no kernel.sha256 change.
    assert "kernel.sha256" not in names


def test_with_a_root_the_predicted_boots_are_compared(make_tree: Callable[..., Path],
                                                      tmp_path: Path) -> None:  # fmt: skip
    root = make_tree()
    broken = tmp_path / "broken.efi"
    rewrite_sections(stub_of(root), {contract.KERNEL: b"\\EFI\\Linux\\missing"}, out=broken)
    comparison = compare(stub_of(root), broken, root)
    boots = {f.field: (f.a, f.b) for f in comparison.fields if f.field.startswith("boot.")}
    assert boots["boot.local"] == (
        "boots",
        "fails: error: kernel \\EFI\\Linux\\missing: file not found status=EFI_NOT_FOUND",
    )


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.efi"
    junk.write_bytes(b"not a PE file")
    result = workbench("diff", str(junk), str(junk))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("workbench: error: ")


def test_extract_gives_back_the_files_that_went_in(make_tree: Callable[..., Path],
                                                   sample_kernel: Path, sample_initrd: Path,
                                                   tmp_path: Path) -> None:  # fmt: skip
    fat = stub_of(make_tree(fat=True))
    for section, original in ((".linux", sample_kernel), (".initrd", sample_initrd)):
        out = tmp_path / section.strip(".")
        result = workbench("extract", str(fat), section, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert out.read_bytes() == original.read_bytes()
    thin = stub_of(make_tree())
    assert extract_section(thin, ".linux", tmp_path / "path") == len(b"\\EFI\\Linux\\vmlinuz")
    assert (tmp_path / "path").read_bytes() == b"\\EFI\\Linux\\vmlinuz"


def test_extract_trims_a_ukis_padded_kernel(sample_kernel: Path, sample_initrd: Path,
                                           tmp_path: Path) -> None:  # fmt: skip
    """systemd-stub's `.linux` is laid out with the kernel's SizeOfImage as VirtualSize."""
    require_file(SYSTEMD_STUB)
    uki = tmp_path / "uki.efi"
    payload = {contract.CMDLINE: b"quiet", contract.INITRD: sample_initrd.read_bytes(),
               contract.KERNEL: sample_kernel.read_bytes()}  # fmt: skip
    rewrite_sections(SYSTEMD_STUB, payload, out=uki)
    extract_section(uki, ".linux", tmp_path / "vmlinuz")
    assert (tmp_path / "vmlinuz").read_bytes() == sample_kernel.read_bytes()
    result = workbench("extract", str(uki), ".cmdline", "-o", "-")
    assert result.stdout == "quiet"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nope.efi", ".linux", "-o", "x"], "nope.efi"),
     (["STUB", ".nothing", "-o", "x"], "no section .nothing"),
     (["STUB", ".linux", "-o", "/no/such/dir/x"], "no such directory")],
)  # fmt: skip
def test_extract_errors_are_one_line_and_write_nothing(
    args: list[str], message: str, make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    stub = str(stub_of(make_tree()))
    result = workbench("extract", *[stub if a == "STUB" else a for a in args])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not (REPO / "x").exists()
