"""Add, replace and remove PE sections with a correct layout (ukify's pe_add_sections algorithm).

The stub's own sections keep their virtual addresses; payload sections are replaced in place when
they fit before the next section, otherwise moved after the last one, and `.linux` stays last.
Raw data of the untouched leading sections keeps its file offsets; everything after is repacked at
FileAlignment. The result is written beside the target, re-parsed and checked, then renamed over it.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from workbench.atomic_write import atomic_write
from workbench.contract import KERNEL
from workbench.errors import InternalError, WorkbenchError
from workbench.pe.image import (
    SCN_CNT_CODE,
    SCN_CNT_INITIALIZED_DATA,
    SCN_MEM_EXECUTE,
    SCN_MEM_READ,
    SECTION_HEADER_SIZE,
    SECURITY_DIRECTORY,
    PeImage,
    Section,
)

PROFILE = ".profile"
DATA_FLAGS = SCN_MEM_READ | SCN_CNT_INITIALIZED_DATA
KERNEL_FLAGS = SCN_MEM_READ | SCN_MEM_EXECUTE | SCN_CNT_CODE
UINT32_MAX = 0xFFFFFFFF


def round_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def mapped_size(section: Section) -> int:
    """The size a loader maps: VirtualSize, or SizeOfRawData when VirtualSize is 0."""
    return section.virtual_size or section.raw_size


@dataclass
class _Planned:
    """One section of the output: where it goes and where its bytes come from."""

    name: str
    virtual_address: int
    virtual_size: int
    characteristics: int
    original: Section | None = None  # unchanged: copy its raw bytes
    data: bytes | None = None  # new contents
    keep_raw: bool = False
    raw_offset: int = 0
    raw_size: int = 0

    @property
    def content_size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.original is not None
        return self.original.raw_size


@dataclass
class _Layout:
    sections: list[_Planned]
    size_of_headers: int


def check_layout(image: PeImage) -> list[str]:
    """Problems a firmware loader or the stub would trip over; an empty list means fine."""
    return [*_alignment_problems(image), *_loader_problems(image)]


def _loader_problems(image: PeImage) -> list[str]:
    """What makes an image unloadable; alignment slips that loaders accept are not included."""
    problems: list[str] = []
    if image.size_of_headers < image.section_table_end:
        problems.append(
            f"not enough header space: SizeOfHeaders {image.size_of_headers:#x} ends before "
            f"the section table ({image.section_table_end:#x})"
        )
    return [*problems, *_section_problems(image), *_directory_problems(image)]


def _alignment_problems(image: PeImage) -> list[str]:
    problems: list[str] = []
    headers = image.size_of_headers
    if headers % image.file_alignment:
        problems.append(f"SizeOfHeaders {headers:#x} is not a multiple of FileAlignment")
    if image.size_of_image % image.section_alignment:
        problems.append(
            f"SizeOfImage {image.size_of_image:#x} is not a multiple of SectionAlignment"
        )
    return problems


def _section_problems(image: PeImage) -> list[str]:
    problems: list[str] = []
    previous_end = 0
    previous_name = ""
    for section in image.sections:
        name = section.name or "<unnamed>"
        start = section.virtual_address
        end = start + mapped_size(section)
        if start < image.size_of_headers:
            problems.append(f"section {name} starts at {start:#x}, inside the headers")
        if previous_name and start < previous_end:
            problems.append(f"section {name} at {start:#x} overlaps or precedes {previous_name}")
        if end > image.size_of_image:
            problems.append(
                f"section {name} ends at {end:#x}, beyond SizeOfImage {image.size_of_image:#x}"
            )
        if section.raw_size and section.raw_offset + section.raw_size > image.file_size:
            problems.append(f"section {name} raw data runs past the end of the file")
        if section.raw_size and section.raw_offset < image.size_of_headers:
            problems.append(f"section {name} raw data starts inside the headers")
        previous_end, previous_name = end, name
    with_raw = sorted((s for s in image.sections if s.raw_size), key=lambda s: s.raw_offset)
    for first, second in itertools.pairwise(with_raw):
        if first.raw_offset + first.raw_size > second.raw_offset:
            problems.append(f"raw data of sections {first.name} and {second.name} overlap")
    return problems


def _directory_problems(image: PeImage) -> list[str]:
    problems: list[str] = []
    for directory in image.data_directories:
        if not directory.size:
            continue
        if directory.index == SECURITY_DIRECTORY:
            if directory.virtual_address + directory.size > image.file_size:
                problems.append("certificate table runs past the end of the file")
        elif directory.virtual_address + directory.size > image.size_of_image:
            problems.append(f"{directory.name} directory lies outside the image")
    return problems


def rewrite_sections(
    src: Path,
    changes: Mapping[str, bytes | None],
    out: Path | None = None,
    *,
    signed: Literal["refuse", "drop"] = "refuse",
    append: Sequence[tuple[str, bytes]] = (),
) -> Path:
    """Replace or add (bytes) and remove (None) sections; write `out` (default: src in place).
    `append` adds sections after all others in the order given, names may repeat (the
    `.profile` sections of a multi-profile UKI and what follows each)."""
    src = Path(src)
    target = Path(out) if out is not None else src
    normalized = _validate_changes(changes)
    appended = [(name, bytes(data)) for name, data in append]
    for name, data in appended:
        _validate_changes({name: data})
    with PeImage.open(src) as image:
        problems = _loader_problems(image)
        if problems:
            raise WorkbenchError(f"cannot edit {src}: {problems[0]}")
        if image.is_signed and signed != "drop":
            raise WorkbenchError(
                f"{src} is signed and editing invalidates the signature: "
                "re-sign it or drop the signature"
            )
        layout = _plan_sections(image, normalized, appended)
        with atomic_write(target, like=src) as temporary:
            _write_image(image, layout, temporary, drop_signature=image.is_signed)
            _check_output(temporary, normalized)
    return target


def _validate_changes(changes: Mapping[str, bytes | None]) -> dict[str, bytes | None]:
    normalized: dict[str, bytes | None] = {}
    for name, value in changes.items():
        encoded = name.encode("ascii", "replace") if isinstance(name, str) else b""
        if not encoded or len(encoded) > 8 or not all(0x21 <= byte < 0x7F for byte in encoded):
            raise WorkbenchError(f"bad section name {name!r}: 1 to 8 printable ASCII characters")
        if value is not None and not isinstance(value, bytes | bytearray | memoryview):
            raise WorkbenchError(f"section {name}: contents must be bytes")
        if value is not None and len(value) > UINT32_MAX:
            raise WorkbenchError(f"section {name}: contents too large for a PE section")
        normalized[name] = None if value is None else bytes(value)
    return normalized


def _protected_sections(image: PeImage) -> dict[str, str]:
    """Sections holding a data directory (relocations, ...): moving them would break the image."""
    protected: dict[str, str] = {}
    for directory in image.data_directories:
        if directory.index == SECURITY_DIRECTORY or not directory.size:
            continue
        for section in image.sections:
            start = section.virtual_address
            if start <= directory.virtual_address < start + mapped_size(section):
                protected.setdefault(section.name, directory.name)
    return protected


def _plan_sections(image: PeImage, changes: dict[str, bytes | None],
                   extra: Sequence[tuple[str, bytes]] = ()) -> _Layout:  # fmt: skip
    names = [section.name for section in image.sections]
    protected = _protected_sections(image)
    for name in changes:
        if names.count(name) > 1:
            raise WorkbenchError(f"{image.path}: section {name} appears {names.count(name)} times")
    for name, value in changes.items():
        if name in protected and (value is None or name in names):
            raise WorkbenchError(
                f"{image.path}: section {name} holds the {protected[name]} directory "
                "and cannot be changed"
            )
    if PROFILE in names:
        return _plan_in_order(image, changes, extra, protected)

    retained = [s for s in image.sections if not (s.name in changes and changes[s.name] is None)]
    appended: list[str] = [n for n, v in changes.items() if v is not None and n not in names]
    # Replaced sections that outgrow their slot move to the end.
    moved: set[str] = set()
    for index, section in enumerate(retained):
        value = changes.get(section.name)
        if value is None:
            continue
        following = [s for s in retained[index + 1 :] if s.name not in moved]
        limit = following[0].virtual_address - section.virtual_address if following else None
        if limit is not None and len(value) > limit:
            moved.add(section.name)
            appended.append(section.name)
    # `.linux` stays last, leaving the kernel room to decompress after it.
    linux = next((s for s in retained if s.name == KERNEL), None)
    if linux is not None and KERNEL not in appended:
        tail = [s for s in retained if s.name not in moved]
        if appended or (tail and tail[-1].name != KERNEL):
            if KERNEL in protected:
                raise WorkbenchError(f"{image.path}: section {KERNEL} cannot be moved")
            moved.add(KERNEL)
            appended.append(KERNEL)
    if KERNEL in appended:
        appended.remove(KERNEL)
        appended.append(KERNEL)

    plan: list[_Planned] = []
    for section in retained:
        if section.name in moved:
            continue
        value = changes.get(section.name)
        if value is None:
            plan.append(
                _Planned(section.name, section.virtual_address, section.virtual_size,
                         section.characteristics, original=section)
            )  # fmt: skip
        else:
            plan.append(
                _Planned(section.name, section.virtual_address, len(value),
                         _flags_for(section.name, value, section.characteristics), data=value)
            )  # fmt: skip
    by_name = {section.name: section for section in retained}
    next_va = max(
        [round_up(p.virtual_address + max(p.virtual_size, 1), image.section_alignment)
         for p in plan] + [round_up(image.size_of_headers, image.section_alignment)]
    )  # fmt: skip
    for name in appended:
        value = changes.get(name)
        original = by_name.get(name)
        if value is None:
            assert original is not None
            entry = _Planned(name, next_va, original.virtual_size, original.characteristics,
                             original=original)  # fmt: skip
        else:
            flags = original.characteristics if original else DATA_FLAGS
            entry = _Planned(name, next_va, len(value), _flags_for(name, value, flags), data=value)
        plan.append(entry)
        next_va = round_up(next_va + max(entry.virtual_size, 1), image.section_alignment)
    # Sections that start profiles (or repeat a name) go after everything, in order.
    for name, data in extra:
        entry = _Planned(name, next_va, len(data), _flags_for(name, data, DATA_FLAGS), data=data)
        plan.append(entry)
        next_va = round_up(next_va + max(len(data), 1), image.section_alignment)
    return _Layout(plan, _place_raw_data(image, plan))


def _plan_in_order(
    image: PeImage,
    changes: dict[str, bytes | None],
    extra: Sequence[tuple[str, bytes]],
    protected: dict[str, str],
) -> _Layout:
    """A multi-profile UKI: a section belongs to the profile whose `.profile` precedes it, so
    the order is the meaning. Sections keep their order; one that grows pushes the ones after
    it up; nothing moves to the end, `.linux` included. New named sections have no profile to
    go to and are refused; `extra` sections go after all others."""
    names = [section.name for section in image.sections]
    for name, change in changes.items():
        if change is not None and name not in names:
            raise WorkbenchError(
                f"{image.path}: a multi-profile UKI has no place for a new section {name} "
                "(its order says which profile a section belongs to)"
            )
    plan: list[_Planned] = []
    cursor = round_up(image.size_of_headers, image.section_alignment)
    for section in image.sections:
        value: bytes | Section | None = section
        if section.name in changes:
            value = changes[section.name]
        if value is None:
            continue
        address = section.virtual_address
        if address < cursor:
            if section.name in protected:
                raise WorkbenchError(f"{image.path}: section {section.name} cannot be moved")
            address = cursor
        if isinstance(value, bytes):
            flags = _flags_for(section.name, value, section.characteristics)
            plan.append(_Planned(section.name, address, len(value), flags, data=value))
        else:
            plan.append(_Planned(section.name, address, section.virtual_size,
                                 section.characteristics, original=section))  # fmt: skip
        size = len(value) if isinstance(value, bytes) else mapped_size(section)
        cursor = round_up(address + max(size, 1), image.section_alignment)
    for name, data in extra:
        entry = _Planned(name, cursor, len(data), _flags_for(name, data, DATA_FLAGS), data=data)
        plan.append(entry)
        cursor = round_up(cursor + max(len(data), 1), image.section_alignment)
    return _Layout(plan, _place_raw_data(image, plan))


def _flags_for(name: str, value: bytes, default: int) -> int:
    if name == KERNEL:
        return KERNEL_FLAGS if value.startswith(b"MZ") else DATA_FLAGS
    return default


def _place_raw_data(image: PeImage, plan: list[_Planned]) -> int:
    """Keep the file offsets of the untouched leading sections, repack everything after."""
    alignment = image.file_alignment
    count = len(plan)
    headers_needed = image.offsets.section_table + SECTION_HEADER_SIZE * count
    size_of_headers = round_up(max(image.size_of_headers, headers_needed), alignment)

    cursor = 0
    keeping = True
    for entry in plan:
        original = entry.original
        if keeping and original is not None:
            aligned = original.raw_size == 0 or original.raw_offset % alignment == 0
            if aligned and (original.raw_size == 0 or original.raw_offset >= cursor):
                entry.keep_raw = True
                entry.raw_offset = original.raw_offset
                entry.raw_size = round_up(original.raw_size, alignment)
                if original.raw_size:
                    cursor = entry.raw_offset + entry.raw_size
                continue
        keeping = False

    kept = [entry for entry in plan if entry.keep_raw and entry.raw_size]
    limit = min(
        [entry.raw_offset for entry in kept] + [entry.virtual_address for entry in plan]
        + [UINT32_MAX]
    )  # fmt: skip
    if size_of_headers > limit:
        raise WorkbenchError(
            f"not enough header space in {image.path} for {count} section headers "
            f"(headers would end at {size_of_headers:#x}, first section at {limit:#x})"
        )
    cursor = max([size_of_headers] + [e.raw_offset + e.raw_size for e in kept])
    for entry in plan:
        if entry.keep_raw:
            continue
        size = entry.content_size
        entry.raw_offset = cursor if size else 0
        entry.raw_size = round_up(size, alignment)
        cursor += entry.raw_size
    return size_of_headers


def _size_of_image(image: PeImage, layout: _Layout) -> int:
    end = max(
        [p.virtual_address + (p.virtual_size or p.raw_size) for p in layout.sections]
        + [layout.size_of_headers]
    )
    size = round_up(end, image.section_alignment)
    if size > UINT32_MAX:
        raise WorkbenchError(f"{image.path}: the image would exceed 4 GiB")
    return size


def _overlay(image: PeImage, drop_signature: bool) -> bytes:
    """Bytes after the last section that are neither a signature nor a COFF symbol table."""
    ends = [round_up(s.raw_offset + s.raw_size, image.file_alignment)
            for s in image.sections if s.raw_size]  # fmt: skip
    start = max([image.size_of_headers, *ends])
    stop = image.file_size
    if image.symbol_table_offset and image.symbol_table_offset >= start:
        stop = min(stop, image.symbol_table_offset)
    security = image.security_directory
    if drop_signature and security is not None and security.virtual_address >= start:
        stop = min(stop, security.virtual_address)
    return image.read(start, stop - start) if stop > start else b""


def _header_bytes(image: PeImage, layout: _Layout, drop_signature: bool) -> bytes:
    offsets = image.offsets
    plan = layout.sections
    size_of_headers = layout.size_of_headers
    header = bytearray(image.read(0, offsets.section_table))
    coff = offsets.pe_offset + 4
    struct.pack_into("<H", header, coff + 2, len(plan))
    struct.pack_into("<II", header, coff + 8, 0, 0)  # the COFF symbol table is not kept

    code_delta = sum(_sized(p, SCN_CNT_CODE) for p in plan) - sum(
        s.raw_size for s in image.sections if s.characteristics & SCN_CNT_CODE
    )
    data_delta = sum(_sized(p, SCN_CNT_INITIALIZED_DATA) for p in plan) - sum(
        s.raw_size for s in image.sections if s.characteristics & SCN_CNT_INITIALIZED_DATA
    )
    optional = offsets.optional_header
    size_of_code = min(UINT32_MAX, max(0, image.size_of_code + code_delta))
    size_of_data = min(UINT32_MAX, max(0, image.size_of_initialized_data + data_delta))
    struct.pack_into("<II", header, optional + 4, size_of_code, size_of_data)
    struct.pack_into(
        "<III", header, optional + 56, _size_of_image(image, layout), size_of_headers, 0
    )
    if drop_signature and image.directory(SECURITY_DIRECTORY) is not None:
        struct.pack_into("<II", header, offsets.data_directories + 8 * SECURITY_DIRECTORY, 0, 0)
    for entry in plan:
        header += struct.pack(
            "<8sIIIIIIHHI",
            entry.name.encode("latin-1"),  # existing names may hold any byte
            entry.virtual_size,
            entry.virtual_address,
            entry.raw_size,
            entry.raw_offset,
            0,
            0,
            0,
            0,
            entry.characteristics,
        )
    header += bytes(size_of_headers - len(header))
    return bytes(header)


def _sized(entry: _Planned, flag: int) -> int:
    return entry.raw_size if entry.characteristics & flag else 0


def _write_image(image: PeImage, layout: _Layout, path: Path, *, drop_signature: bool) -> None:
    header = _header_bytes(image, layout, drop_signature)
    overlay = _overlay(image, drop_signature)
    with open(path, "wb") as output:
        output.write(header)
        for entry in sorted(layout.sections, key=lambda p: p.raw_offset):
            if not entry.raw_size:
                continue
            _pad_to(output, entry.raw_offset)
            written = _write_contents(output, image, entry)
            output.write(bytes(entry.raw_size - written))
        output.write(overlay)


def _pad_to(output: BinaryIO, offset: int) -> None:
    position = output.tell()
    if position > offset:
        raise InternalError("internal layout error: overlapping raw data")
    output.write(bytes(offset - position))


def _write_contents(output: BinaryIO, image: PeImage, entry: _Planned) -> int:
    if entry.data is not None:
        output.write(entry.data)
        return len(entry.data)
    assert entry.original is not None
    start = entry.original.raw_offset
    length = min(entry.original.raw_size, max(0, image.file_size - start))
    written = 0
    for chunk in image.iter_chunks(start, length):
        output.write(chunk)
        written += len(chunk)
    return written


def _check_output(path: Path, changes: dict[str, bytes | None]) -> None:
    with PeImage.open(path) as written:
        problems = check_layout(written)
        if problems:
            raise WorkbenchError(f"refusing to write a broken image: {problems[0]}")
        for name, value in changes.items():
            section = written.section(name)
            if value is None:
                if section is not None:
                    raise InternalError(f"internal error: section {name} was not removed")
                continue
            if section is None:
                raise InternalError(f"internal error: section {name} missing after the edit")
            with written.section_view(section) as view:
                if view != value:
                    raise InternalError(f"internal error: section {name} reads back wrong")
