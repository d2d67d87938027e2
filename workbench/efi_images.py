"""Where the firmware loaded each image: EDK2's debug image table, read from guest memory.

EDK2's DXE core keeps an EFI_SYSTEM_TABLE_POINTER ("IBI SYST", the system table's address) on
a 4 MiB boundary for debuggers, and publishes EFI_DEBUG_IMAGE_INFO_TABLE_HEADER in the system
table's configuration table: { UpdateStatus, TableSize, *EfiDebugImageInfoTable }, each entry
pointing at { ImageInfoType, *LoadedImage, ImageHandle }. TableSize grows after an entry is
complete (MdeModulePkg/Core/Dxe/Misc/DebugImageInfo.c), which is what a watchpoint waits on.
This is what EDK2's BaseTools/Scripts/efi_debugging.py walks; it works on a release build
(Debian's OVMF), which prints no "Loading driver at" lines.

Everything here reads through a `Read` callable (address, length -> bytes, or None where
nothing is mapped), so the same code walks a GDB session's memory, or a file's bytes in a test.
Layouts are the 64-bit ones (x86-64 and AArch64 alike).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from workbench.textsafe import printable

Read = Callable[[int, int], bytes | None]

SYSTEM_TABLE_SIGNATURE = b"IBI SYST"
DEBUG_IMAGE_INFO_TABLE_GUID = uuid.UUID("49152e77-1ada-4764-b7a2-7afefed95e8b")
ALIGNMENT = 4 << 20
# EFI_SYSTEM_TABLE (64-bit): NumberOfTableEntries, then *ConfigurationTable.
SYSTEM_TABLE_ENTRIES = 0x68
SYSTEM_TABLE_CONFIGURATION = 0x70
CONFIGURATION_ENTRY = 24  # EFI_GUID + VOID *
# EFI_LOADED_IMAGE_PROTOCOL (64-bit): FilePath, ImageBase, ImageSize.
LOADED_IMAGE_FILE_PATH = 0x20
LOADED_IMAGE_BASE = 0x40
LOADED_IMAGE_SIZE = 0x48
TABLE_SIZE_OFFSET = 4  # in the header: UpdateStatus, TableSize
# The most entries a table is read with: a bad TableSize does not make us read for ever.
MOST_ENTRIES = 4096
DEBUG_TYPE_CODEVIEW = 2
NAME_LIMIT = 256


def _u32(data: bytes, offset: int = 0) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _u64(data: bytes, offset: int = 0) -> int:
    return int(struct.unpack_from("<Q", data, offset)[0])


def find_system_table(read: Read, top: int) -> int | None:
    """The system table's address, from the "IBI SYST" pointer on a 4 MiB boundary below TOP
    (searched downwards, where EDK2 puts it); None before the DXE core has made it."""
    address = (top // ALIGNMENT) * ALIGNMENT - ALIGNMENT
    while address >= 0:
        data = read(address, 16)
        if data is not None and len(data) == 16 and data[:8] == SYSTEM_TABLE_SIGNATURE:
            return _u64(data, 8)
        address -= ALIGNMENT
    return None


def configuration_table(read: Read, system_table: int, guid: uuid.UUID) -> int | None:
    """The address the system table's configuration table gives for GUID."""
    head = read(system_table + SYSTEM_TABLE_ENTRIES, 16)
    if head is None or len(head) < 16:
        return None
    count, table = _u64(head, 0), _u64(head, 8)
    if count > MOST_ENTRIES or table == 0:
        return None
    entries = read(table, count * CONFIGURATION_ENTRY)
    if entries is None:
        return None
    # A read may come back short (GDB gives what is readable): only whole entries are looked at.
    for index in range(min(count, len(entries) // CONFIGURATION_ENTRY)):
        offset = index * CONFIGURATION_ENTRY
        if entries[offset : offset + 16] == guid.bytes_le:
            return _u64(entries, offset + 16)
    return None


@dataclass(frozen=True)
class PeFacts:
    """What identifies a PE image in memory and on disk (headers are at the same offsets)."""

    timestamp: int
    entry: int  # AddressOfEntryPoint, an RVA
    size_of_image: int
    name: str | None = None  # the CodeView debug entry's file name, when there is one
    image_base: int = 0  # the preferred base: an ELF's addresses are RVAs plus this

    def same_image(self, other: PeFacts) -> bool:
        return (self.timestamp, self.entry, self.size_of_image) == (
            other.timestamp,
            other.entry,
            other.size_of_image,
        )


def pe_facts(read: Read, base: int, with_name: bool = True) -> PeFacts | None:
    """The PE/COFF headers at BASE (a loaded image, or offset 0 of a file); None if not a PE."""
    dos = read(base, 0x40)
    if dos is None or len(dos) < 0x40 or dos[:2] != b"MZ":
        return None
    pe = _u32(dos, 0x3C)
    if pe > 0x10000:
        return None
    headers = read(base + pe, 24 + 240)
    if headers is None or len(headers) < 24 + 112 or headers[:4] != b"PE\0\0":
        return None
    timestamp = _u32(headers, 8)
    optional = 24
    magic = struct.unpack_from("<H", headers, optional)[0]
    if magic not in (0x10B, 0x20B):
        return None
    entry = _u32(headers, optional + 16)
    size_of_image = _u32(headers, optional + 56)
    image_base = _u64(headers, optional + 24) if magic == 0x20B else _u32(headers, optional + 28)
    directories = optional + (112 if magic == 0x20B else 96)
    name = None
    if with_name and len(headers) >= directories + 7 * 8:
        debug_rva, debug_size = struct.unpack_from("<II", headers, directories + 6 * 8)
        name = _codeview_name(read, base, debug_rva, debug_size)
    return PeFacts(timestamp, entry, size_of_image, name, image_base)


def _codeview_name(read: Read, base: int, rva: int, size: int) -> str | None:
    if rva == 0 or size < 28 or size > 28 * 16:
        return None
    entries = read(base + rva, size)
    if entries is None:
        return None
    for offset in range(0, len(entries) - 27, 28):
        kind, _, data_rva = struct.unpack_from("<III", entries, offset + 12)
        if kind != DEBUG_TYPE_CODEVIEW or data_rva == 0:
            continue
        record = read(base + data_rva, 24 + NAME_LIMIT)
        if record is None or len(record) < 24:
            return None
        start = {b"RSDS": 24, b"NB10": 16, b"MTOC": 20}.get(record[:4])
        if start is None:
            return None
        raw = record[start:].split(b"\0", 1)[0]
        return _shown(raw.decode("utf-8", "replace")) or None
    return None


# Device path nodes a loaded image's FilePath is made of (UEFI spec 10.3.5).
MEDIA_PATH = 4
MEDIA_FILE_PATH = 4
MEDIA_FIRMWARE_FILE = 6  # a driver in a firmware volume, named by its file GUID
END_PATH = 0x7F
MOST_NODES = 16


def file_path_text(read: Read, path: int) -> str | None:
    """A loaded image's FilePath in words: the file's path, or `fv:GUID` for a firmware driver
    (Debian's release OVMF keeps no debug names, so its drivers are known by GUID)."""
    parts: list[str] = []
    for _ in range(MOST_NODES):
        head = read(path, 4) if path else None
        if head is None or len(head) < 4 or head[0] == END_PATH:
            break
        kind, sub, length = head[0], head[1], int(struct.unpack_from("<H", head, 2)[0])
        if length < 4 or length > 1024:
            break
        if kind == MEDIA_PATH and sub == MEDIA_FILE_PATH:
            text = read(path + 4, length - 4) or b""
            parts.append(text.decode("utf-16-le", "replace").split("\0", 1)[0])
        elif kind == MEDIA_PATH and sub == MEDIA_FIRMWARE_FILE and length >= 20:
            guid = read(path + 4, 16)
            if guid is not None and len(guid) == 16:
                parts.append(f"fv:{uuid.UUID(bytes_le=guid)}")
        path += length
    return _shown("".join(parts)) or None


def _shown(text: str) -> str:
    """Guest memory's text with non-printable characters as `\\xNN` (per UTF-8 byte), so a
    name printed in a line cannot drive the operator's terminal; backslashes stay (paths)."""
    return printable(text, escape_backslash=False)


@dataclass(frozen=True)
class LoadedImage:
    handle: int
    base: int
    size: int
    facts: PeFacts | None
    file_path: str | None = None

    @property
    def name(self) -> str:
        """The image's build name without its directories (DxeCore.dll), else its FilePath."""
        if self.facts is not None and self.facts.name:
            return self.facts.name.replace("\\", "/").rsplit("/", 1)[-1]
        return self.file_path or "(no name)"

    def line(self) -> str:
        entry = f"{self.base + self.facts.entry:#x}" if self.facts else "?"
        return f"{self.base:#014x} {self.size:#9x} entry {entry:>14}  {self.name}"


def table_size(read: Read, header: int) -> int:
    data = read(header + TABLE_SIZE_OFFSET, 4)
    return min(_u32(data), MOST_ENTRIES) if data is not None and len(data) == 4 else 0


def loaded_images(
    read: Read, header: int, first: int = 0, with_names: bool = True
) -> list[LoadedImage]:
    """The table's entries from index FIRST on (entries being changed are left out)."""
    data = read(header, 16)
    if data is None or len(data) < 16:
        return []
    count, table = min(_u32(data, 4), MOST_ENTRIES), _u64(data, 8)
    if table == 0 or first >= count:
        return []
    pointers = read(table + first * 8, (count - first) * 8)
    if pointers is None:
        return []
    images = []
    for index in range(min(count - first, len(pointers) // 8)):  # a short read: what is there
        normal = _u64(pointers, index * 8)
        entry = read(normal, 24) if normal else None
        if entry is None or len(entry) < 24 or _u32(entry, 0) != 1:
            continue
        loaded, handle = _u64(entry, 8), _u64(entry, 16)
        place = read(loaded + LOADED_IMAGE_FILE_PATH, 0x30) if loaded else None
        if place is None or len(place) < 0x30:
            continue
        base, size = _u64(place, 0x20), _u64(place, 0x28)
        path = file_path_text(read, _u64(place, 0)) if with_names else None
        images.append(LoadedImage(handle, base, size, pe_facts(read, base, with_names), path))
    return images


def file_reader(data: bytes) -> Read:
    """A Read over a file's bytes (offset = address), for the image on disk."""

    def read(address: int, length: int) -> bytes | None:
        if address < 0 or address >= len(data):
            return None
        return data[address : address + length]

    return read
