"""Which machine a kernel is built for, read from its PE header, and what a stub makes of it.

A stub starts kernels of its own architecture only (stub/src/pe.c refuses the other one), so a
stub and a kernel of different architectures never boot: the workbench says so before a boot.
Only the few header bytes are read, never the whole kernel.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from workbench.arch import by_machine, machine_label
from workbench.errors import WorkbenchError
from workbench.pe.image import PeImage, Section

_PE_OFFSET_AT = 0x3C
_MACHINE_AFTER_SIGNATURE = 4  # "PE\0\0", then the COFF header's Machine


def machine_of(read: Callable[[int, int], bytes], size: int) -> int | None:
    """The PE machine type of the bytes `read(offset, length)` gives (`size` in all); None when
    they are no PE image."""
    if size < _PE_OFFSET_AT + 4 or read(0, 2) != b"MZ":
        return None
    (pe_offset,) = struct.unpack("<I", read(_PE_OFFSET_AT, 4))
    if pe_offset + _MACHINE_AFTER_SIGNATURE + 2 > size or read(pe_offset, 4) != b"PE\0\0":
        return None
    field = read(pe_offset + _MACHINE_AFTER_SIGNATURE, 2)
    return int.from_bytes(field, "little") if len(field) == 2 else None


def file_machine(path: Path) -> int | None:
    """The PE machine type of a file; None when it is unreadable or no PE image."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)

            def read(offset: int, length: int) -> bytes:
                handle.seek(offset)
                return handle.read(length)

            return machine_of(read, size)
    except OSError:
        return None


def bytes_machine(data: bytes) -> int | None:
    """The PE machine type of bytes in memory (a new `.linux`)."""
    return machine_of(lambda offset, length: data[offset : offset + length], len(data))


def section_machine(image: PeImage, section: Section) -> int | None:
    """The PE machine type of a kernel embedded in a section (fat stubs, UKIs)."""
    base, size = section.raw_offset, section.data_size
    try:
        return machine_of(lambda offset, length: image.read(base + offset, length), size)
    except (WorkbenchError, struct.error):
        return None  # a section that runs past the file: the layout warning says so


def label(machine: int | None) -> str | None:
    """The label of a PE machine ("x86_64", "arm64", "machine 0x.."); None for no PE image."""
    return None if machine is None else machine_label(machine)


def mix_problem(stub_machine: int, kernel_machine: int | None) -> str | None:
    """The finding when a stub and its kernel are of different architectures we know."""
    stub_arch, kernel_arch = by_machine(stub_machine), by_machine(kernel_machine or 0)
    if stub_arch is None or kernel_arch is None or stub_arch == kernel_arch:
        return None
    kernel, stub = kernel_arch.label, stub_arch.label
    return f"the kernel is {kernel} but the stub is {stub}: the stub refuses it"


def stub_refusal(stub_machine: int, kernel_machine: int | None) -> str | None:
    """The stub's own words for a kernel of the other architecture (stub/src/pe.c), as its
    error line ends before the status; None when it takes the kernel's architecture."""
    stub_arch, kernel_arch = by_machine(stub_machine), by_machine(kernel_machine or 0)
    if stub_arch is None or kernel_arch is None or stub_arch == kernel_arch:
        return None
    return f"an {kernel_arch.name} image, and this stub starts {stub_arch.name} kernels"
