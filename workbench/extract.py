"""A section's bytes out of a stub, as the file that went in.

For most sections that is the data the firmware loads (VirtualSize, capped by SizeOfRawData).
An embedded kernel (`.linux` of a fat stub or UKI) may be padded: ukify gives `.linux` the
kernel's SizeOfImage as VirtualSize and rounds the raw data to FileAlignment. When the section
holds a PE image, its own headers say where the file ended (the end of its last section's raw
data or of its certificate table), and the extract stops there if all that follows is zeros.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workbench.atomic_write import atomic_write
from workbench.errors import WorkbenchError
from workbench.pe.image import PeImage

CHUNK = 1 << 20


def embedded_pe_length(head: bytes, available: int) -> int | None:
    """The file length an embedded PE's headers describe, or None when it is not a PE."""
    try:
        image = PeImage.from_bytes(head, name="embedded")
    except WorkbenchError:
        return None
    ends = [section.raw_offset + section.raw_size for section in image.sections if section.raw_size]
    security = image.security_directory
    if security is not None:
        ends.append(security.virtual_address + security.size)
    length = max(ends, default=0)
    return length if 0 < length <= available else None


def payload_range(image: PeImage, name: str) -> tuple[int, int]:
    """(file offset, length) of what `extract` writes for section `name`."""
    section = image.section(name)
    if section is None:
        names = ", ".join(s.name for s in image.sections)
        raise WorkbenchError(f"{image.path}: no section {name} (it has {names})")
    start = min(section.raw_offset, image.file_size)
    length = min(section.data_size, image.file_size - start)
    if image.read(start, 2) == b"MZ":
        # The headers sit in the first pages; the PE parser reads no further than them.
        pe_length = embedded_pe_length(image.read(start, min(length, 1 << 16)), length)
        # Only zero padding is ever left out: anything else after the PE's end is kept.
        if pe_length is not None and _all_zero(image, start + pe_length, length - pe_length):
            length = pe_length
    return start, length


def _all_zero(image: PeImage, offset: int, length: int) -> bool:
    return all(not any(chunk) for chunk in image.iter_chunks(offset, length))


def iter_payload(image: PeImage, name: str) -> Iterator[bytes]:
    start, length = payload_range(image, name)
    yield from image.iter_chunks(start, length)


def extract_section(stub: Path, name: str, out: Path) -> int:
    """Write the section's payload to `out` atomically; returns the bytes written."""
    with PeImage.open(stub) as image:
        _, length = payload_range(image, name)
        directory = Path(out).resolve().parent
        if not directory.is_dir():
            raise WorkbenchError(f"{out}: no such directory {directory}")
        with atomic_write(Path(out)) as temporary, open(temporary, "wb") as file:
            for chunk in iter_payload(image, name):
                file.write(chunk)
    return length
