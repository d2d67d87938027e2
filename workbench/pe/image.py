"""PeImage: a read-only, mmap-backed model of a PE/COFF file.

Only the headers and the section table are parsed at open; section data is read on demand from
the mapping, so a 200 MB fat stub opens in milliseconds and little memory.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from workbench.errors import WorkbenchError

PE32_MAGIC = 0x10B
PE32_PLUS_MAGIC = 0x20B
SECTION_HEADER_SIZE = 40
COFF_HEADER_SIZE = 20
SECURITY_DIRECTORY = 4
READ_CHUNK = 1 << 20

DIRECTORY_NAMES = (
    "export", "import", "resource", "exception", "security", "basereloc", "debug",
    "architecture", "globalptr", "tls", "load_config", "bound_import", "iat",
    "delay_import", "clr", "reserved",
)  # fmt: skip

MACHINE_NAMES = {
    0x14C: "i386", 0x8664: "x86_64", 0xAA64: "aarch64", 0x1C2: "arm", 0x5064: "riscv64",
}  # fmt: skip

# Section characteristics (PE/COFF specification).
SCN_CNT_CODE = 0x00000020
SCN_CNT_INITIALIZED_DATA = 0x00000040
SCN_CNT_UNINITIALIZED_DATA = 0x00000080
SCN_MEM_EXECUTE = 0x20000000
SCN_MEM_READ = 0x40000000
SCN_MEM_WRITE = 0x80000000


@dataclass(frozen=True)
class Section:
    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int
    characteristics: int

    @property
    def end_va(self) -> int:
        return self.virtual_address + self.virtual_size

    @property
    def data_size(self) -> int:
        """Bytes the stub reads: min(VirtualSize, SizeOfRawData)."""
        return min(self.virtual_size, self.raw_size)


@dataclass(frozen=True)
class DataDirectory:
    index: int
    name: str
    virtual_address: int  # a file offset for the security directory
    size: int


@dataclass(frozen=True)
class SignatureInfo:
    subject: str
    issuer: str
    digest_algorithm: str
    count: int


@dataclass(frozen=True)
class HeaderOffsets:
    """Where the editable header fields live in the file."""

    pe_offset: int
    optional_header: int
    optional_header_size: int
    data_directories: int
    section_table: int
    is_pe32_plus: bool


class PeImage:
    """A PE file opened read-only; use as a context manager or call close()."""

    def __init__(self, path: Path, data: mmap.mmap | bytes, fd: int | None = None) -> None:
        self.path = path
        self._data = data
        self._fd = fd  # kept for bulk reads that should not grow the mapping's resident set
        self._digests: dict[Section, str] = {}
        self._parse()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> PeImage:
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise WorkbenchError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise WorkbenchError(f"not a file: {path}") from None
        except OSError as error:
            raise WorkbenchError(f"cannot read {path}: {_reason(error)}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError
            if os.fstat(fd).st_size == 0:
                raise WorkbenchError(f"not a PE file: {path} is empty")
            data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except IsADirectoryError:
            os.close(fd)
            raise WorkbenchError(f"not a file: {path}") from None
        except (OSError, ValueError) as error:
            os.close(fd)
            raise WorkbenchError(f"cannot read {path}: {_reason(error)}") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            return cls(path, data, fd)
        except BaseException:
            data.close()
            os.close(fd)
            raise

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<memory>") -> PeImage:
        return cls(Path(name), bytes(data))

    def close(self) -> None:
        if isinstance(self._data, mmap.mmap) and not self._data.closed:
            self._data.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PeImage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- header parsing --------------------------------------------------------------------

    def _unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        end = offset + struct.calcsize(fmt)
        if offset < 0 or end > len(self._data):
            raise WorkbenchError(f"truncated PE file: {self.path} ends inside the {what}")
        return struct.unpack_from(fmt, self._data, offset)

    def _parse(self) -> None:
        data = self._data
        if len(data) < 2 or data[:2] != b"MZ":
            raise WorkbenchError(f"not a PE file: {self.path} has no MZ header")
        (pe_offset,) = self._unpack("<I", 0x3C, "DOS header")
        if pe_offset + 4 > len(data):
            raise WorkbenchError(f"truncated PE file: {self.path} ends before the PE header")
        if data[pe_offset : pe_offset + 4] != b"PE\0\0":
            raise WorkbenchError(f"not a PE file: {self.path} has no PE signature")
        coff = pe_offset + 4
        machine, section_count, _, symbol_table, symbol_count, optional_size, _ = self._unpack(
            "<HHIIIHH", coff, "COFF header"
        )
        optional = coff + COFF_HEADER_SIZE
        (magic,) = self._unpack("<H", optional, "optional header")
        if magic not in (PE32_MAGIC, PE32_PLUS_MAGIC):
            raise WorkbenchError(f"not a PE file: {self.path} has optional header magic {magic:#x}")
        plus = magic == PE32_PLUS_MAGIC
        minimum_optional = 112 if plus else 96
        if optional_size < minimum_optional:
            raise WorkbenchError(
                f"malformed PE file: {self.path} optional header is {optional_size} bytes"
            )
        self._unpack(f"<{optional_size}s", optional, "optional header")
        size_of_code, size_of_init = struct.unpack_from("<II", data, optional + 4)
        if plus:
            (image_base,) = struct.unpack_from("<Q", data, optional + 24)
        else:
            (image_base,) = struct.unpack_from("<I", data, optional + 28)
        section_alignment, file_alignment = struct.unpack_from("<II", data, optional + 32)
        size_of_image, size_of_headers, checksum, subsystem = struct.unpack_from(
            "<IIIH", data, optional + 56
        )
        directories_at = optional + (112 if plus else 96)
        (directory_count,) = struct.unpack_from("<I", data, directories_at - 4)
        directory_count = min(directory_count, (optional + optional_size - directories_at) // 8)
        if file_alignment == 0 or section_alignment == 0:
            raise WorkbenchError(f"malformed PE file: {self.path} has a zero alignment")

        self.machine = machine
        self.machine_name = MACHINE_NAMES.get(machine, f"{machine:#06x}")
        self.is_pe32_plus = plus
        self.image_base = image_base
        self.section_alignment = section_alignment
        self.file_alignment = file_alignment
        self.size_of_image = size_of_image
        self.size_of_headers = size_of_headers
        self.size_of_code = size_of_code
        self.size_of_initialized_data = size_of_init
        self.checksum = checksum
        self.subsystem = subsystem
        self.symbol_table_offset = symbol_table
        self.symbol_count = symbol_count
        self.data_directories = [
            DataDirectory(
                index,
                DIRECTORY_NAMES[index] if index < len(DIRECTORY_NAMES) else f"dir{index}",
                *struct.unpack_from("<II", data, directories_at + 8 * index),
            )
            for index in range(directory_count)
        ]
        section_table = optional + optional_size
        self.offsets = HeaderOffsets(
            pe_offset, optional, optional_size, directories_at, section_table, plus
        )
        self.sections = [
            self._parse_section(section_table + SECTION_HEADER_SIZE * index)
            for index in range(section_count)
        ]
        self.section_table_end = section_table + SECTION_HEADER_SIZE * section_count

    def _parse_section(self, offset: int) -> Section:
        raw_name, virtual_size, va, raw_size, raw_offset, _, _, _, _, flags = self._unpack(
            "<8sIIIIIIHHI", offset, "section table"
        )
        name = bytes(raw_name).rstrip(b"\0").decode("latin-1")  # "8s" unpacks to bytes
        return Section(name, va, virtual_size, raw_offset, raw_size, flags)

    # -- queries ---------------------------------------------------------------------------

    @property
    def file_size(self) -> int:
        return len(self._data)

    def section(self, name: str) -> Section | None:
        return next((section for section in self.sections if section.name == name), None)

    def _resolve(self, section_or_name: Section | str) -> Section:
        if isinstance(section_or_name, Section):
            return section_or_name
        section = self.section(section_or_name)
        if section is None:
            raise WorkbenchError(f"{self.path}: no section {section_or_name}")
        return section

    def section_view(self, section_or_name: Section | str) -> memoryview:
        """The bytes the stub would read, without copying (beyond end of file is cut off)."""
        section = self._resolve(section_or_name)
        start = min(section.raw_offset, len(self._data))
        end = min(section.raw_offset + section.data_size, len(self._data))
        return memoryview(self._data)[start:end]

    def section_data(self, section_or_name: Section | str) -> bytes:
        with self.section_view(section_or_name) as view:
            return bytes(view)

    def section_sha256(self, section_or_name: Section | str) -> str:
        section = self._resolve(section_or_name)
        if section not in self._digests:
            digest = hashlib.sha256()
            start = min(section.raw_offset, len(self._data))
            end = min(section.raw_offset + section.data_size, len(self._data))
            for chunk in self.iter_chunks(start, end - start):
                digest.update(chunk)
            self._digests[section] = digest.hexdigest()
        return self._digests[section]

    def iter_chunks(self, offset: int, length: int) -> Iterator[bytes]:
        """File bytes in pieces, read with pread so hashing 200 MB does not map 200 MB."""
        end = min(offset + length, len(self._data))
        while offset < end:
            size = min(READ_CHUNK, end - offset)
            if self._fd is not None:
                chunk = os.pread(self._fd, size, offset)
                if not chunk:
                    return
            else:
                chunk = bytes(self._data[offset : offset + size])
            yield chunk
            offset += len(chunk)

    def read(self, offset: int, length: int) -> bytes:
        """Raw file bytes (clipped to the file)."""
        return bytes(self._data[offset : offset + length])

    def directory(self, index: int) -> DataDirectory | None:
        if index < len(self.data_directories):
            return self.data_directories[index]
        return None

    @property
    def security_directory(self) -> DataDirectory | None:
        directory = self.directory(SECURITY_DIRECTORY)
        if directory is None or directory.size == 0:
            return None
        return directory

    @property
    def is_signed(self) -> bool:
        return self.security_directory is not None

    @property
    def signature(self) -> SignatureInfo | None:
        directory = self.security_directory
        if directory is None:
            return None
        return _parse_signature(
            self.read(directory.virtual_address, directory.size), str(self.path)
        )


def _text(value: str | bytes) -> str:
    """lief gives names as str or bytes, by version."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _parse_signature(table: bytes, where: str) -> SignatureInfo:
    """Decode the first WIN_CERTIFICATE (PKCS#7) of a certificate table with lief."""
    import lief  # imported late: loading lief costs ~0.1 s and only signed files need it

    if len(table) < 8:
        raise WorkbenchError(f"malformed certificate table in {where}")
    length, _, cert_type = struct.unpack_from("<IHH", table, 0)
    if cert_type != 0x0002 or not 8 < length <= len(table):
        raise WorkbenchError(f"malformed certificate table in {where}")
    count = 0
    offset = 0
    while offset + 8 <= len(table):
        (entry_length,) = struct.unpack_from("<I", table, offset)
        if entry_length < 8:
            break
        count += 1
        offset += (entry_length + 7) & ~7
    lief.logging.disable()
    signature = lief.PE.Signature.parse(list(table[8:length]))
    if signature is None or not signature.signers:
        raise WorkbenchError(f"unreadable Authenticode signature in {where}")
    signer = signature.signers[0]
    subject = signer.cert.subject if signer.cert is not None else ""
    return SignatureInfo(
        subject=_text(subject),
        issuer=_text(signer.issuer),
        digest_algorithm=str(signature.digest_algorithm).rsplit(".", 1)[-1].lower(),
        count=count,
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
