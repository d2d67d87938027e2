"""Flavour detection and decoding: our stubs, UKIs, lanzaboote (current and legacy), plain apps."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require_file, require_tool

from workbench import contract
from workbench.builder import build_tree
from workbench.pe.edit import check_layout, rewrite_sections
from workbench.pe.image import PeImage
from workbench.stubinfo import Flavour, describe, to_json

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
DIGEST = hashlib.sha256(b"kernel").digest()


@pytest.fixture
def systemd_stub(tmp_path: Path) -> Path:
    target = tmp_path / "systemd-stub.efi"
    shutil.copyfile(require_file(SYSTEMD_STUB), target)
    return target


def describe_file(path: Path):
    with PeImage.open(path) as image:
        return describe(image), to_json(describe(image), image)


def test_our_thin_stub(stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path):
    result = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd,
                        cmdline="console=ttyS0", out_dir=tmp_path,
                        policy={"source": "net"})  # fmt: skip
    info, document = describe_file(result.stub_path)
    assert info.flavour == Flavour.WORKBENCH_THIN
    assert info.marker is not None and info.marker.startswith("stub-workbench ")
    assert info.kernel is not None and info.kernel.path == "\\EFI\\Linux\\vmlinuz"
    assert info.kernel.expected_sha256 == hashlib.sha256(sample_kernel.read_bytes()).hexdigest()
    assert info.initrd is not None and info.initrd.path == "\\EFI\\Linux\\initrd.img"
    assert info.cmdline == "console=ttyS0"
    assert info.policy == {"source": "net"}
    assert info.osrel["ID"] == "stub-workbench-sample"
    assert any(row[0] == "stub-workbench" for row in info.sbat)
    assert info.warnings == []
    assert document["flavour"] == "workbench-thin"
    assert document["kernel"]["path"] == "\\EFI\\Linux\\vmlinuz"
    assert document["signed"] is False
    names = [section["name"] for section in document["sections"]]
    assert names[-1] == ".linux" and contract.WB_MAGIC in names
    hashes = {s["name"]: s for s in document["sections"]}
    assert hashes[".linuxh"]["kind"] == "hex"
    assert hashes[".cmdline"]["kind"] == "text" and hashes[".cmdline"]["value"] == "console=ttyS0"


def test_our_fat_stub(stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path):
    result = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd,
                        cmdline="quiet", out_dir=tmp_path, fat=True)  # fmt: skip
    info, document = describe_file(result.stub_path)
    assert info.flavour == Flavour.WORKBENCH_FAT
    assert info.kernel is not None and info.kernel.embedded_size == sample_kernel.stat().st_size
    assert info.kernel.path is None and info.kernel.hash_problem is None
    assert info.initrd is not None and info.initrd.embedded_size == sample_initrd.stat().st_size
    assert document["kernel"]["embedded_size"] == sample_kernel.stat().st_size
    linux = next(s for s in document["sections"] if s["name"] == ".linux")
    assert linux["kind"] == "size"
    assert linux["sha256"] == hashlib.sha256(sample_kernel.read_bytes()).hexdigest()
    # A hash that no longer matches the embedded kernel is reported.
    rewrite_sections(result.stub_path, {contract.KERNEL_HASH: bytes(32)})
    info, _ = describe_file(result.stub_path)
    assert (
        info.kernel is not None and info.kernel.hash_problem == "does not match the embedded bytes"
    )
    assert any("does not match" in warning for warning in info.warnings)


def test_uki_from_systemd_stub(systemd_stub: Path, sample_kernel: Path) -> None:
    kernel = sample_kernel.read_bytes()
    rewrite_sections(systemd_stub, {
        ".osrel": b'PRETTY_NAME="Test UKI"\n', ".cmdline": b"root=/dev/sda",
        ".uname": b"6.1.0-test\n", ".initrd": b"070701" + bytes(200), ".splash": bytes(3000),
        ".linux": kernel,
    })  # fmt: skip
    info, document = describe_file(systemd_stub)
    assert info.flavour == Flavour.UKI
    assert info.kernel is not None and info.kernel.embedded_size == len(kernel)
    assert info.kernel.expected_sha256 is None and info.kernel.hash_problem is None
    assert info.initrd is not None and info.initrd.embedded_size == 206
    assert info.uname == "6.1.0-test"
    assert info.osrel == {"PRETTY_NAME": "Test UKI"}
    assert info.sizes == {".splash": 3000}
    assert document["cmdline"] == "root=/dev/sda"
    assert ".sdmagic" in [s["name"] for s in document["sections"]]


def test_lanzaboote_current_layout(systemd_stub: Path) -> None:
    # lzbt order: .osrel .cmdline .initrd .linux .initrdh .linuxh (paths with a leading backslash)
    rewrite_sections(systemd_stub, {
        ".osrel": b"ID=nixos\n", ".cmdline": b"init=/nix/store/x-init",
        ".initrd": b"\\EFI\\nixos\\initrd.efi", ".linux": b"\\EFI\\nixos\\kernel.efi",
        ".initrdh": DIGEST, ".linuxh": DIGEST[:31],
    })  # fmt: skip
    info, _ = describe_file(systemd_stub)
    assert info.flavour == Flavour.LANZABOOTE
    assert info.kernel is not None and info.kernel.path == "\\EFI\\nixos\\kernel.efi"
    assert info.kernel.hash_problem == "wrong length 31"
    assert info.initrd is not None and info.initrd.expected_sha256 == DIGEST.hex()
    assert any("wrong length 31" in warning for warning in info.warnings)


def test_lanzaboote_assembled_with_objcopy_like_lzbt(systemd_stub: Path, tmp_path: Path) -> None:
    """lzbt packs sections by file size with objcopy, without SectionAlignment rounding."""
    objcopy = require_tool("objcopy")
    contents = [(".osrel", b"ID=nixos\n"), (".cmdline", b"init=/nix/store/abc-init"),
                (".initrd", b"\\EFI\\nixos\\initrd.efi"), (".linux", b"\\EFI\\nixos\\kernel.efi"),
                (".initrdh", DIGEST), (".linuxh", DIGEST)]  # fmt: skip
    with PeImage.open(systemd_stub) as image:
        address = image.image_base + image.sections[-1].end_va
    argv = [objcopy]
    for name, data in contents:
        (tmp_path / name).write_bytes(data)
        argv += ["--add-section", f"{name}={tmp_path / name}",
                 "--change-section-vma", f"{name}={address:#x}"]  # fmt: skip
        address += len(data)
    subprocess.run([*argv, str(systemd_stub), str(tmp_path / "lzb.efi")], check=True)
    info, _ = describe_file(tmp_path / "lzb.efi")
    assert info.flavour == Flavour.LANZABOOTE
    assert info.kernel is not None and info.kernel.path == "\\EFI\\nixos\\kernel.efi"
    assert info.cmdline == "init=/nix/store/abc-init"
    # Editing it keeps the unaligned sections and appends the grown one before `.linux`.
    rewrite_sections(tmp_path / "lzb.efi", {".cmdline": b"init=/nix/store/" + b"z" * 300})
    with PeImage.open(tmp_path / "lzb.efi") as image:
        assert check_layout(image) == []
        assert [s.name for s in image.sections][-2:] == [".cmdline", ".linux"]
        assert image.section_data(".initrdh") == DIGEST


def test_long_cmdline_warns(systemd_stub: Path) -> None:
    rewrite_sections(systemd_stub, {".cmdline": b"x" * 3000})
    info, _ = describe_file(systemd_stub)
    assert any("x86 Linux keeps only the first 2047" in warning for warning in info.warnings)


def test_lanzaboote_legacy_layout(systemd_stub: Path) -> None:
    rewrite_sections(systemd_stub, {
        ".cmdline": b"quiet",
        ".kernelp": b"\\EFI\\nixos\\k.efi", ".initrdp": b"\\EFI\\nixos\\i.efi",
        ".kernelh": DIGEST, ".initrdh": DIGEST,
    })  # fmt: skip
    info, document = describe_file(systemd_stub)
    assert info.flavour == Flavour.LANZABOOTE_LEGACY
    assert info.kernel is not None and info.kernel.path == "\\EFI\\nixos\\k.efi"
    assert info.kernel.expected_sha256 == DIGEST.hex()
    assert document["initrd"]["path"] == "\\EFI\\nixos\\i.efi"


def test_plain_efi_application_and_unknown_sections(tmp_path: Path) -> None:
    app = tmp_path / "app.efi"
    shutil.copyfile(require_file(SYSTEMD_BOOT), app)
    rewrite_sections(app, {".mystery": b"\x01\x02\xff" * 10, ".note": b"hello\n"})
    info, document = describe_file(app)
    assert info.flavour == Flavour.EFI_APP
    assert info.kernel is None and info.initrd is None and info.cmdline is None
    sections = {s["name"]: s for s in document["sections"]}
    assert sections[".mystery"]["kind"] == "hex" and sections[".mystery"]["value"] == "0102ff" * 10
    assert sections[".note"] == {**sections[".note"], "kind": "text", "value": "hello\n"}


def test_bad_contents_become_warnings(stub_efi: Path, tmp_path: Path) -> None:
    target = tmp_path / "odd.efi"
    rewrite_sections(stub_efi, {
        ".cmdline": b"\xff\xfe bad utf-8", ".policy": b"on-error=explode\ncolour=red\n",
        ".linux": b"\\EFI\\Linux\\vmlinuz",
    }, target)  # fmt: skip
    info, _ = describe_file(target)
    assert info.flavour == Flavour.WORKBENCH_THIN
    text = "\n".join(info.warnings)
    assert ".cmdline is not valid UTF-8" in text
    assert "policy on-error='explode' is invalid" in text
    assert "policy key 'colour' is unknown" in text
    assert "kernel hash .linuxh missing" in text
