"""PeImage: header parsing agrees with pefile; bad input gives one clear error."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pefile
import pytest
from conftest import require_file

from workbench.errors import WorkbenchError
from workbench.pe.image import PeImage

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")


@pytest.mark.parametrize("path", [SYSTEMD_STUB, SYSTEMD_BOOT])
def test_headers_and_sections_match_pefile(path: Path) -> None:
    require_file(path)
    pe = pefile.PE(str(path), fast_load=True)
    with PeImage.open(path) as image:
        assert image.machine == 0x8664 and image.machine_name == "x86_64"
        assert image.is_pe32_plus
        assert image.image_base == pe.OPTIONAL_HEADER.ImageBase
        assert image.section_alignment == pe.OPTIONAL_HEADER.SectionAlignment
        assert image.file_alignment == pe.OPTIONAL_HEADER.FileAlignment
        assert image.size_of_image == pe.OPTIONAL_HEADER.SizeOfImage
        assert image.size_of_headers == pe.OPTIONAL_HEADER.SizeOfHeaders
        assert image.subsystem == 10
        assert len(image.data_directories) == len(pe.OPTIONAL_HEADER.DATA_DIRECTORY)
        assert not image.is_signed and image.signature is None
        for ours, theirs in zip(image.sections, pe.sections, strict=True):
            assert ours.name == theirs.Name.rstrip(b"\0").decode()
            assert ours.virtual_address == theirs.VirtualAddress
            assert ours.virtual_size == theirs.Misc_VirtualSize
            assert ours.raw_offset == theirs.PointerToRawData
            assert ours.raw_size == theirs.SizeOfRawData
            assert ours.characteristics == theirs.Characteristics
            expected = theirs.get_data()[: min(theirs.Misc_VirtualSize, theirs.SizeOfRawData)]
            assert image.section_data(ours) == expected
            assert image.section_sha256(ours.name) == hashlib.sha256(expected).hexdigest()
    pe.close()


def test_section_lookup(tmp_path: Path) -> None:
    with PeImage.open(require_file(SYSTEMD_STUB)) as image:
        sbat = image.section(".sbat")
        assert sbat is not None and sbat.end_va == sbat.virtual_address + sbat.virtual_size
        assert image.section_data(".sbat").startswith(b"sbat,1,")
        assert image.section(".nothere") is None
        with pytest.raises(WorkbenchError, match=r"no section \.nothere"):
            image.section_data(".nothere")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"M", "no MZ header"),
        (b"hello world, not a PE at all" * 4, "no MZ header"),
        (b"MZ" + bytes(10), "truncated PE file"),
        (
            b"MZ" + bytes(58) + (64).to_bytes(4, "little") + b"XX\0\0" + bytes(200),
            "no PE signature",
        ),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.efi"
    path.write_bytes(content)
    with pytest.raises(WorkbenchError, match=message) as raised:
        PeImage.open(path)
    assert "\n" not in str(raised.value)


def test_truncated_section_table(tmp_path: Path) -> None:
    data = require_file(SYSTEMD_STUB).read_bytes()
    with PeImage.open(SYSTEMD_STUB) as image:
        cut = image.offsets.section_table + 50
    path = tmp_path / "cut.efi"
    path.write_bytes(data[:cut])
    with pytest.raises(WorkbenchError, match=r"truncated PE file: .* section table"):
        PeImage.open(path)


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no such file"):
        PeImage.open(tmp_path / "absent.efi")
    with pytest.raises(WorkbenchError, match="not a file"):
        PeImage.open(tmp_path)


def test_open_does_not_read_section_data(tmp_path: Path) -> None:
    """A large file opens without reading its body: parsing touches only the headers."""
    big = tmp_path / "big.efi"
    shutil.copyfile(require_file(SYSTEMD_STUB), big)
    with open(big, "ab") as handle:
        handle.truncate(big.stat().st_size + (512 << 20))  # sparse: costs no disk
    with PeImage.open(big) as image:
        assert image.file_size > 512 << 20
        assert image.section(".text") is not None


def test_garbage_certificate_table_is_reported_not_crashed(tmp_path: Path) -> None:
    import struct

    from workbench.stubinfo import describe

    data = bytearray(require_file(SYSTEMD_STUB).read_bytes())
    with PeImage.open(SYSTEMD_STUB) as image:
        security_entry = image.offsets.data_directories + 8 * 4
    table = struct.pack("<IHH", 40, 0x0200, 0x0002) + bytes(32)  # WIN_CERT, no PKCS#7 inside
    struct.pack_into("<II", data, security_entry, len(data), len(table))
    path = tmp_path / "garbage-signature.efi"
    path.write_bytes(bytes(data) + table)
    with PeImage.open(path) as image:
        assert image.is_signed
        with pytest.raises(WorkbenchError, match="unreadable Authenticode signature"):
            _ = image.signature
        info = describe(image)
        assert info.signed and info.signature is None
        assert any("unreadable Authenticode signature" in w for w in info.warnings)
