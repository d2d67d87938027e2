"""The firmware's debug image table walked in a made-up memory, the way EDK2 lays it out."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

from workbench.efi_images import (
    DEBUG_IMAGE_INFO_TABLE_GUID,
    LoadedImage,
    configuration_table,
    file_path_text,
    file_reader,
    find_system_table,
    loaded_images,
    pe_facts,
    table_size,
)

MIB = 1 << 20
TOP = 768 * MIB
POINTER = 764 * MIB  # the "IBI SYST" pointer: the first 4 MiB boundary below the top
SYSTEM_TABLE = 0x1FE00000
CONFIG = 0x1FD00000
HEADER = 0x1FC00000
TABLE = 0x1FB00000
NORMAL = 0x1FA00000
LOADED = 0x1F900000
FILE_PATH = 0x1F800000
IMAGE = 0x2C000000
DXE_CORE = uuid.UUID("d6a2cb7f-6a18-4e2f-b43b-9920a733700a")


class Memory:
    """Sparse guest memory: unwritten bytes are not mapped, as a real read would fail."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytes] = {}

    def put(self, address: int, data: bytes) -> None:
        self.blocks[address] = data

    def read(self, address: int, length: int) -> bytes | None:
        for start, data in self.blocks.items():
            if start <= address and address + length <= start + len(data):
                return data[address - start : address - start + length]
        return None


def file_path(path: str) -> bytes:
    text = (path + "\0").encode("utf-16-le")
    return struct.pack("<BBH", 4, 4, 4 + len(text)) + text + b"\x7f\xff\x04\x00"


def firmware_file(guid: uuid.UUID) -> bytes:
    return struct.pack("<BBH", 4, 6, 20) + guid.bytes_le + b"\x7f\xff\x04\x00"


def loaded_image(path: int, base: int, size: int) -> bytes:
    """EFI_LOADED_IMAGE_PROTOCOL: FilePath at 0x20, ImageBase at 0x40, ImageSize at 0x48."""
    data = bytearray(0x50)
    struct.pack_into("<Q", data, 0x20, path)
    struct.pack_into("<QQ", data, 0x40, base, size)
    return bytes(data)


def memory_with(stub: bytes, entries: int = 1) -> Memory:
    memory = Memory()
    memory.put(POINTER, b"IBI SYST" + struct.pack("<QI", SYSTEM_TABLE, 0))
    system = bytearray(0x78)
    struct.pack_into("<QQ", system, 0x68, 2, CONFIG)
    memory.put(SYSTEM_TABLE, bytes(system))
    other = uuid.UUID("8868e871-e4f1-11d3-bc22-0080c73c8881")  # ACPI 2.0
    memory.put(CONFIG, other.bytes_le + struct.pack("<Q", 1) +
               DEBUG_IMAGE_INFO_TABLE_GUID.bytes_le + struct.pack("<Q", HEADER))  # fmt: skip
    memory.put(HEADER, struct.pack("<IIQ", 0, entries, TABLE))
    memory.put(TABLE, struct.pack("<Q", NORMAL) + struct.pack("<Q", NORMAL + 0x100))
    memory.put(NORMAL, struct.pack("<IIQQ", 1, 0, LOADED, 0xAAAA))
    memory.put(NORMAL + 0x100, struct.pack("<IIQQ", 1, 0, LOADED + 0x100, 0xBBBB))
    memory.put(LOADED, loaded_image(FILE_PATH, IMAGE, 0x40000))
    memory.put(LOADED + 0x100, loaded_image(FILE_PATH + 0x100, IMAGE + 0x1000000, 0x1F000))
    memory.put(FILE_PATH, file_path("\\EFI\\BOOT\\BOOTX64.EFI"))
    memory.put(FILE_PATH + 0x100, firmware_file(DXE_CORE))
    memory.put(IMAGE, stub[:4096])
    return memory


def test_the_table_is_found_and_the_image_matches_the_file(stub_efi: Path) -> None:
    stub = stub_efi.read_bytes()
    memory = memory_with(stub, entries=2)
    assert find_system_table(memory.read, TOP) == SYSTEM_TABLE
    header = configuration_table(memory.read, SYSTEM_TABLE, DEBUG_IMAGE_INFO_TABLE_GUID)
    assert header == HEADER
    assert table_size(memory.read, HEADER) == 2
    images = loaded_images(memory.read, HEADER)
    assert [(image.handle, image.base, image.file_path) for image in images] == [
        (0xAAAA, IMAGE, "\\EFI\\BOOT\\BOOTX64.EFI"),
        (0xBBBB, IMAGE + 0x1000000, f"fv:{DXE_CORE}"),
    ]
    on_disk = pe_facts(file_reader(stub), 0, with_name=False)
    assert on_disk is not None and images[0].facts is not None
    assert images[0].facts.same_image(on_disk)
    assert images[1].facts is None  # nothing mapped there: no headers, no crash
    assert images[0].line().endswith("\\EFI\\BOOT\\BOOTX64.EFI")
    assert f"entry {IMAGE + on_disk.entry:#x}" in " ".join(images[0].line().split())
    # From an index on: what the watchpoint's stop looks at.
    assert [image.handle for image in loaded_images(memory.read, HEADER, first=1)] == [0xBBBB]


def test_before_the_dxe_core_there_is_nothing_to_find() -> None:
    assert find_system_table(Memory().read, TOP) is None
    memory = Memory()
    memory.put(SYSTEM_TABLE, bytes(0x78))  # no configuration table yet
    assert configuration_table(memory.read, SYSTEM_TABLE, DEBUG_IMAGE_INFO_TABLE_GUID) is None


def test_a_corrupt_table_is_read_within_bounds(stub_efi: Path) -> None:
    memory = memory_with(stub_efi.read_bytes())
    memory.put(HEADER, struct.pack("<IIQ", 0, 0xFFFFFFFF, TABLE))
    assert table_size(memory.read, HEADER) == 4096
    assert loaded_images(memory.read, HEADER) == []  # the pointer array is not all there
    system = bytearray(0x78)
    struct.pack_into("<QQ", system, 0x68, 1 << 40, CONFIG)
    memory.put(SYSTEM_TABLE, bytes(system))
    assert configuration_table(memory.read, SYSTEM_TABLE, DEBUG_IMAGE_INFO_TABLE_GUID) is None
    # A device path node that claims 2 bytes would loop for ever; a missing end stops at 16.
    memory.put(FILE_PATH, struct.pack("<BBH", 4, 4, 2))
    assert file_path_text(memory.read, FILE_PATH) is None


def test_not_a_pe_is_none() -> None:
    assert pe_facts(file_reader(b"MZ" + bytes(100)), 0) is None
    assert pe_facts(file_reader(b"\x7fELF" + bytes(100)), 0) is None
    assert pe_facts(file_reader(b""), 0) is None


def test_an_image_without_a_name_says_so() -> None:
    assert LoadedImage(1, 0x1000, 0x2000, None).name == "(no name)"


class ShortReads(Memory):
    """GDB's reads: as much as is readable from the start, None only when nothing is."""

    def read(self, address: int, length: int) -> bytes | None:
        for start, data in self.blocks.items():
            if start <= address < start + len(data):
                return data[address - start : address - start + length]
        return None


def test_short_reads_give_what_is_whole_and_raise_nothing() -> None:
    memory = ShortReads()
    system = bytearray(0x78)
    struct.pack_into("<QQ", system, 0x68, 2, CONFIG)
    memory.put(SYSTEM_TABLE, bytes(system))
    # The second configuration entry (the one looked for) is cut off after its GUID.
    other = uuid.UUID("8868e871-e4f1-11d3-bc22-0080c73c8881")
    memory.put(CONFIG, other.bytes_le + struct.pack("<Q", 1) + DEBUG_IMAGE_INFO_TABLE_GUID.bytes_le)
    assert configuration_table(memory.read, SYSTEM_TABLE, DEBUG_IMAGE_INFO_TABLE_GUID) is None
    # Three entries claimed, one and a half pointers readable.
    memory.put(HEADER, struct.pack("<IIQ", 0, 3, TABLE))
    memory.put(TABLE, struct.pack("<Q", NORMAL) + b"\0" * 4)
    memory.put(NORMAL, struct.pack("<IIQQ", 1, 0, LOADED, 0xAAAA))
    memory.put(LOADED, loaded_image(FILE_PATH, IMAGE, 0x40000))
    memory.put(FILE_PATH, file_path("\\EFI\\BOOT\\BOOTX64.EFI"))
    assert [image.handle for image in loaded_images(memory.read, HEADER)] == [0xAAAA]


def test_names_from_guest_memory_cannot_drive_a_terminal() -> None:
    memory = Memory()
    memory.put(FILE_PATH, file_path("\\EFI\\x\x1b[2J\n\u202eevil.efi"))
    text = file_path_text(memory.read, FILE_PATH)
    assert text == "\\EFI\\x\\x1b[2J\\x0a\\xe2\\x80\\xaeevil.efi"
    assert text.isprintable()
