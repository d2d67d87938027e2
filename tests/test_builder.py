"""build_tree(): the ESP tree, the payload sections and their hashes, fat and thin."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from workbench import contract
from workbench.builder import build_tree, default_stub
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.pe.edit import check_layout
from workbench.pe.image import PeImage
from workbench.pe.signing import verify


def sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def test_thin_tree(
    stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path
) -> None:
    root = tmp_path / "esp"
    result = build_tree(
        stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd,
        cmdline="console=ttyS0 panic=-1 \u00e9t\u00e9", out_dir=root,
        policy={"error-delay": "1", "on-error": "halt"},
    )  # fmt: skip
    assert result.stub_path == root / contract.BOOT_PATH
    assert result.kernel_path == root / "EFI/Linux/vmlinuz"
    assert result.initrd_path == root / "EFI/Linux/initrd.img"
    assert result.kernel_path.read_bytes() == sample_kernel.read_bytes()
    with PeImage.open(result.stub_path) as image:
        assert check_layout(image) == []
        assert image.section_data(contract.KERNEL) == b"\\EFI\\Linux\\vmlinuz"
        assert image.section_data(contract.INITRD) == b"\\EFI\\Linux\\initrd.img"
        assert image.section_data(contract.KERNEL_HASH) == sha256(sample_kernel)
        assert image.section_data(contract.INITRD_HASH) == sha256(sample_initrd)
        assert image.section_data(contract.CMDLINE).decode() == "console=ttyS0 panic=-1 été"
        assert image.section_data(contract.POLICY) == b"error-delay=1\non-error=halt\n"
        assert b"PRETTY_NAME=" in image.section_data(contract.OSREL)
        assert image.sections[-1].name == contract.KERNEL
        with PeImage.open(stub_efi) as base:
            for original in base.sections:
                assert image.section(original.name) == original


def test_fat_tree_embeds_the_files(
    stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path
) -> None:
    result = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd,
                        cmdline="quiet", out_dir=tmp_path / "fat", fat=True)  # fmt: skip
    assert result.kernel_path is None and result.initrd_path is None
    assert not (tmp_path / "fat" / contract.LINUX_DIR).exists()
    with PeImage.open(result.stub_path) as image:
        assert check_layout(image) == []
        assert image.section_data(contract.KERNEL) == sample_kernel.read_bytes()
        assert image.section_data(contract.INITRD) == sample_initrd.read_bytes()
        assert image.section_data(contract.KERNEL_HASH) == sha256(sample_kernel)
        assert image.sections[-1].name == contract.KERNEL
        assert image.section(contract.POLICY) is None


def test_rebuild_without_initrd_drops_it(
    stub_efi: Path, sample_kernel: Path, tmp_path: Path
) -> None:
    first = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=None, cmdline="",
                       out_dir=tmp_path / "t", kernel_name="linux.efi")  # fmt: skip
    # Building on top of a built stub replaces the payload instead of stacking it.
    second = build_tree(stub=first.stub_path, kernel=sample_kernel, initrd=None, cmdline="x",
                        out_dir=tmp_path / "t2")  # fmt: skip
    with PeImage.open(second.stub_path) as image:
        names = [s.name for s in image.sections]
        assert names.count(contract.KERNEL) == 1
        assert contract.INITRD not in names and contract.INITRD_HASH not in names
        assert image.section_data(contract.CMDLINE) == b"x"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"policy": {"colour": "red"}}, "unknown policy key 'colour'"),
        ({"policy": {"error-delay": "601"}}, "bad policy value error-delay='601'"),
        ({"policy": {"on-error": "explode"}}, "bad policy value on-error"),
        ({"kernel_name": "a\\b"}, "bad kernel file name"),
        ({"kernel": Path("/nonexistent/vmlinuz")}, "kernel /nonexistent/vmlinuz: no such file"),
        ({"cmdline": "a\0b"}, "must not contain NUL"),
    ],
)
def test_bad_build_input(
    stub_efi: Path, sample_kernel: Path, tmp_path: Path, overrides: dict, message: str
) -> None:
    arguments = {"stub": stub_efi, "kernel": sample_kernel, "initrd": None, "cmdline": "",
                 "out_dir": tmp_path / "out", **overrides}  # fmt: skip
    with pytest.raises(WorkbenchError, match=message):
        build_tree(**arguments)
    assert not (tmp_path / "out" / contract.BOOT_PATH).exists()


def test_default_stub_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, stub_efi: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORKBENCH_STUB", str(stub_efi))
    assert default_stub() == stub_efi
    monkeypatch.setenv("WORKBENCH_STUB", str(tmp_path / "none.efi"))
    with pytest.raises(WorkbenchError, match="no stub at"):
        default_stub()


def test_build_command(
    stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    root = tmp_path / "cli"
    code = main(["build", "--stub", str(stub_efi), "--kernel", str(sample_kernel),
                 "--initrd", str(sample_initrd), "--cmdline", "console=ttyS0",
                 "--out-dir", str(root), "--policy", "source=local"])  # fmt: skip
    assert code == 0
    assert f"wrote {root / contract.BOOT_PATH}" in capsys.readouterr().out
    with PeImage.open(root / contract.BOOT_PATH) as image:
        assert image.section_data(contract.POLICY) == b"source=local\n"
    code = main(["build", "--stub", str(stub_efi), "--kernel", str(sample_kernel),
                 "--out-dir", str(root), "--policy", "nonsense"])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "expected KEY=VALUE" in error


def test_signed_build(stub_efi: Path, sample_kernel: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    require_tool("sbsign")
    require_tool("sbverify")
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(
        [openssl, "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days",
         "2", "-subj", "/CN=Throwaway build db/", "-keyout", str(keys / "db.key"),
         "-out", str(keys / "db.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    result = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=None, cmdline="quiet",
                        out_dir=tmp_path / "signed", sign_keys=keys)  # fmt: skip
    assert verify(result.stub_path, keys)
    with PeImage.open(result.stub_path) as image:
        assert image.signature is not None and "Throwaway build db" in image.signature.subject
        assert image.section_data(contract.CMDLINE) == b"quiet"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "data_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_tree_modes_are_what_cp_gives(
    stub_efi: Path, sample_kernel: Path, sample_initrd: Path, tmp_path: Path,
    mask: int, data_mode: int,
) -> None:  # fmt: skip
    """Servers running as another user (and dnsmasq as root) serve only readable files."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(sample_kernel.read_bytes())
    initrd.write_bytes(sample_initrd.read_bytes())
    kernel.chmod(0o644)
    initrd.chmod(0o644)
    previous = os.umask(mask)
    try:
        thin = build_tree(stub=stub_efi, kernel=kernel, initrd=initrd, cmdline="",
                          out_dir=tmp_path / "thin")  # fmt: skip
        fat = build_tree(stub=stub_efi, kernel=kernel, initrd=initrd, cmdline="",
                         out_dir=tmp_path / "fat", fat=True)  # fmt: skip
    finally:
        os.umask(previous)
    assert thin.kernel_path and thin.initrd_path
    assert mode(thin.kernel_path) == mode(thin.initrd_path) == data_mode
    assert mode(thin.stub_path) == mode(fat.stub_path) == mode(stub_efi) & ~mask
    assert [p.name for p in thin.kernel_path.parent.iterdir() if p.name.startswith(".")] == []


def test_set_keeps_an_existing_files_mode_and_a_new_one_follows_the_stub(
    stub_efi: Path, sample_kernel: Path, tmp_path: Path, openssl_db_keys: Path
) -> None:
    require_tool("sbsign")
    tree = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=None, cmdline="",
                      out_dir=tmp_path / "t")  # fmt: skip
    existing = tmp_path / "existing.efi"
    existing.write_bytes(b"old")
    existing.chmod(0o640)
    previous = os.umask(0o022)
    try:
        assert main(["set", str(tree.stub_path), "-o", str(existing), "--cmdline", "a"]) == 0
        assert main(["set", str(tree.stub_path), "-o", str(tmp_path / "new.efi"),
                     "--cmdline", "b"]) == 0  # fmt: skip
        assert main(["set", str(tree.stub_path), "-o", str(tmp_path / "signed.efi"),
                     "--cmdline", "c", "--sign", str(openssl_db_keys)]) == 0  # fmt: skip
    finally:
        os.umask(previous)
    assert mode(existing) == 0o640
    assert mode(tmp_path / "new.efi") == mode(tmp_path / "signed.efi") == mode(tree.stub_path)
    assert verify(tmp_path / "signed.efi", openssl_db_keys)


def test_a_failed_rebuild_leaves_the_tree_as_it_was(
    stub_efi: Path, sample_kernel: Path, tmp_path: Path
) -> None:
    tree = build_tree(stub=stub_efi, kernel=sample_kernel, initrd=None, cmdline="",
                      out_dir=tmp_path / "t")  # fmt: skip
    tree.stub_path.chmod(0o640)
    before = tree.stub_path.read_bytes()
    not_a_stub = tmp_path / "not-a-stub.efi"
    not_a_stub.write_bytes(b"MZ" + bytes(100))
    with pytest.raises(WorkbenchError):
        build_tree(stub=not_a_stub, kernel=sample_kernel, initrd=None, cmdline="x",
                   out_dir=tmp_path / "t")  # fmt: skip
    assert (tree.stub_path.read_bytes(), mode(tree.stub_path)) == (before, 0o640)
    assert sorted(p.name for p in tree.stub_path.parent.iterdir()) == ["BOOTX64.EFI"]


def test_build_warns_when_a_written_file_is_private(
    stub_efi: Path, sample_kernel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A private source (a 0600 /boot/vmlinuz) gives a private copy, as cp does: build says
    that netboot servers will refuse it."""
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(sample_kernel.read_bytes())
    kernel.chmod(0o600)
    root = tmp_path / "private"
    code = main(["build", "--stub", str(stub_efi), "--kernel", str(kernel),
                 "--cmdline", "console=ttyS0", "--out-dir", str(root)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    warnings = captured.err.splitlines()
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        f"workbench: warning: {root / 'EFI/Linux/vmlinuz'} is not readable"
    )
    assert "(mode 0600)" in warnings[0]
    kernel.chmod(0o644)
    main(["build", "--stub", str(stub_efi), "--kernel", str(kernel), "--cmdline", "x",
          "--out-dir", str(tmp_path / "public")])  # fmt: skip
    assert capsys.readouterr().err == ""
