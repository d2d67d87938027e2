"""rewrite_sections(): layout rules (ukify algorithm), atomic writes, signed input, header room."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pefile
import pytest
from conftest import require_file, require_tool

from workbench.errors import WorkbenchError
from workbench.pe.edit import check_layout, rewrite_sections
from workbench.pe.image import PeImage
from workbench.pe.signing import sign, verify

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    target = tmp_path / "base.efi"
    shutil.copyfile(require_file(SYSTEMD_STUB), target)
    return target


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def assert_sound(path: Path) -> None:
    with PeImage.open(path) as image:
        assert check_layout(image) == []
        vas = [s.virtual_address for s in image.sections]
        assert vas == sorted(vas)
        assert image.checksum == 0
    # pefile agrees on the sections and has nothing to warn about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pe = pefile.PE(str(path), fast_load=True)
    assert pe.get_warnings() == []
    with PeImage.open(path) as image:
        names = [s.Name.rstrip(b"\0").decode() for s in pe.sections]
        assert names == [s.name for s in image.sections]
        assert pe.OPTIONAL_HEADER.SizeOfImage == image.size_of_image
    pe.close()


def test_added_sections_follow_the_stub_and_linux_comes_last(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "uki.efi"
    kernel = b"MZ" + bytes(range(256)) * 100
    with PeImage.open(base) as before:
        original = [(s.name, s.virtual_address, s.raw_offset) for s in before.sections]
        init_before = before.size_of_initialized_data
    rewrite_sections(base, {".linux": kernel, ".osrel": b"ID=test\n", ".cmdline": b"quiet"}, out)
    assert_sound(out)
    with PeImage.open(out) as image:
        names = [s.name for s in image.sections]
        assert names[: len(original)] == [name for name, _, _ in original]
        assert names[len(original) :] == [".osrel", ".cmdline", ".linux"]
        # The stub's own sections keep their addresses and file offsets.
        kept = [(s.name, s.virtual_address, s.raw_offset) for s in image.sections[: len(original)]]
        assert kept == original
        assert image.section_data(".linux") == kernel
        assert image.section_data(".cmdline") == b"quiet"
        linux = image.section(".linux")
        assert linux is not None and linux.virtual_address % image.section_alignment == 0
        assert image.size_of_image == -(-linux.end_va // image.section_alignment) * (
            image.section_alignment
        )
        assert image.size_of_initialized_data > init_before
    objdump = shutil.which("objdump")
    if objdump:
        listing = subprocess.run([objdump, "-h", str(out)], capture_output=True, text=True)
        assert listing.returncode == 0 and ".linux" in listing.stdout


def test_replacement_that_fits_stays_in_place(base: Path) -> None:
    rewrite_sections(base, {".cmdline": b"a" * 10, ".linux": b"\\EFI\\Linux\\k"})
    with PeImage.open(base) as image:
        before = image.section(".cmdline")
    rewrite_sections(base, {".cmdline": b"b" * 20})
    assert_sound(base)
    with PeImage.open(base) as image:
        after = image.section(".cmdline")
        assert after is not None and before is not None
        assert after.virtual_address == before.virtual_address
        assert image.section_data(".cmdline") == b"b" * 20
        assert image.sections[-1].name == ".linux"


def test_replacement_that_outgrows_its_slot_moves_before_linux(base: Path) -> None:
    rewrite_sections(base, {".cmdline": b"short", ".osrel": b"ID=x\n", ".linux": b"MZ" * 5000})
    big = b"console=ttyS0 " * 1000
    rewrite_sections(base, {".cmdline": big})
    assert_sound(base)
    with PeImage.open(base) as image:
        assert [s.name for s in image.sections][-2:] == [".cmdline", ".linux"]
        assert image.section_data(".cmdline") == big
        assert image.section_data(".linux") == b"MZ" * 5000
        assert image.section_data(".osrel") == b"ID=x\n"


def test_removal_and_empty_sections(base: Path) -> None:
    rewrite_sections(base, {".cmdline": b"", ".policy": b"source=net\n"})
    rewrite_sections(base, {".policy": None, ".missing": None})
    assert_sound(base)
    with PeImage.open(base) as image:
        assert image.section(".policy") is None
        cmdline = image.section(".cmdline")
        assert cmdline is not None and image.section_data(cmdline) == b""


def test_sections_holding_a_directory_are_refused(base: Path) -> None:
    before = snapshot(base)
    with pytest.raises(WorkbenchError, match=r"\.reloc holds the basereloc directory"):
        rewrite_sections(base, {".reloc": None})
    assert snapshot(base) == before


def test_header_room_runs_out_with_a_clear_error(base: Path) -> None:
    before = snapshot(base)
    many = {f".s{index}": b"x" for index in range(40)}
    with pytest.raises(WorkbenchError, match="not enough header space"):
        rewrite_sections(base, many)
    assert snapshot(base) == before
    assert list(base.parent.glob(".*.tmp")) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "bad section name"), (".toolongname", "bad section name"), (".a b", "bad section")],
)
def test_bad_section_names(base: Path, name: str, message: str) -> None:
    with pytest.raises(WorkbenchError, match=message):
        rewrite_sections(base, {name: b"x"})


def test_signed_input_is_refused_unless_dropped(
    base: Path, tmp_path: Path, openssl_db_keys: Path
) -> None:
    require_tool("sbsign")
    require_tool("sbverify")
    signed = sign(base, openssl_db_keys, tmp_path / "signed.efi")
    assert verify(signed, openssl_db_keys)
    with PeImage.open(signed) as image:
        assert image.is_signed
        assert image.signature is not None
        assert "Throwaway test db" in image.signature.subject
        assert image.signature.digest_algorithm == "sha_256"
    before = snapshot(signed)
    with pytest.raises(WorkbenchError, match="is signed"):
        rewrite_sections(signed, {".cmdline": b"x"})
    assert snapshot(signed) == before
    out = rewrite_sections(signed, {".cmdline": b"x"}, tmp_path / "dropped.efi", signed="drop")
    assert_sound(out)
    with PeImage.open(out) as image:
        assert not image.is_signed
        assert image.file_size < signed.stat().st_size + 1024
    assert not verify(out, openssl_db_keys)
    # Re-signing the edited image gives a valid signature again.
    sign(out, openssl_db_keys)
    assert verify(out, openssl_db_keys)


def test_a_failed_write_leaves_no_temporary_and_the_source_intact(
    base: Path, tmp_path: Path
) -> None:
    before = snapshot(base)
    with pytest.raises(WorkbenchError, match="cannot write"):
        rewrite_sections(base, {".cmdline": b"x"}, tmp_path / "missing-dir" / "out.efi")
    assert snapshot(base) == before


def test_overlapping_sections_are_reported(base: Path) -> None:
    data = bytearray(base.read_bytes())
    with PeImage.open(base) as image:
        table = image.offsets.section_table
        second_va = image.sections[1].virtual_address
    # Move the second section's VirtualAddress onto the first one.
    first_va = int.from_bytes(data[table + 12 : table + 16], "little")
    data[table + 40 + 12 : table + 40 + 16] = first_va.to_bytes(4, "little")
    assert first_va != second_va
    broken = base.with_name("broken.efi")
    broken.write_bytes(bytes(data))
    with PeImage.open(broken) as image:
        assert any("overlaps" in problem for problem in check_layout(image))
    with pytest.raises(WorkbenchError, match="cannot edit"):
        rewrite_sections(broken, {".cmdline": b"x"})
