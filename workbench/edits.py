"""Edits to a stub's sections, for `workbench set` and the TUI's Edit pane alike.

Which section holds each editable value in each flavour, how values are checked, the section
changes they make, new hashes from a tree, policy updates, and the write itself (atomic;
unsigned, or edited into a scratch file and signed into place). Textual-free.
"""

from __future__ import annotations

import string
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from workbench import contract
from workbench.arch import machine_label
from workbench.builder import file_sha256
from workbench.errors import BadInput, WorkbenchError
from workbench.kernel_arch import bytes_machine, file_machine, stub_refusal
from workbench.lookup import locate, tree_of
from workbench.paths import parse_stub_path
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.pe.signing import sign
from workbench.stubinfo import (
    Flavour,
    detect_flavour,
    format_policy,
    parse_policy,
    validate_policy,
)

HEX_DIGITS = frozenset(string.hexdigits)


class Field(StrEnum):
    """An editable value of a stub."""

    CMDLINE = "cmdline"
    KERNEL_PATH = "kernel_path"
    KERNEL_HASH = "kernel_hash"
    INITRD_PATH = "initrd_path"
    INITRD_HASH = "initrd_hash"


FIELD_LABELS = {
    Field.CMDLINE: "Command line",
    Field.KERNEL_PATH: "Kernel path",
    Field.KERNEL_HASH: "Kernel SHA-256",
    Field.INITRD_PATH: "Initrd path",
    Field.INITRD_HASH: "Initrd SHA-256",
}

PATH_FIELDS = (Field.KERNEL_PATH, Field.INITRD_PATH)
HASH_FIELDS = (Field.KERNEL_HASH, Field.INITRD_HASH)


def field_sections(flavour: Flavour) -> dict[Field, str]:
    """Where each value lives in this flavour's layout (path sections matter for thin stubs;
    a fat stub keeps its optional hashes in the same sections)."""
    if flavour == Flavour.LANZABOOTE_LEGACY:
        return {
            Field.CMDLINE: contract.CMDLINE,
            Field.KERNEL_PATH: contract.LEGACY_KERNEL_PATH,
            Field.KERNEL_HASH: contract.LEGACY_KERNEL_HASH,
            Field.INITRD_PATH: contract.LEGACY_INITRD_PATH,
            Field.INITRD_HASH: contract.INITRD_HASH,
        }
    return {
        Field.CMDLINE: contract.CMDLINE,
        Field.KERNEL_PATH: contract.KERNEL,
        Field.KERNEL_HASH: contract.KERNEL_HASH,
        Field.INITRD_PATH: contract.INITRD,
        Field.INITRD_HASH: contract.INITRD_HASH,
    }


@dataclass(frozen=True)
class SectionMap:
    """Which section holds each value that can be edited in a flavour."""

    sections: dict[Field, str]
    # Thin stubs refuse to run anything unverified: their hashes are required.
    hashes_required: bool

    @classmethod
    def for_flavour(cls, flavour: Flavour) -> SectionMap:
        every = field_sections(flavour)
        if flavour in (Flavour.WORKBENCH_THIN, Flavour.LANZABOOTE, Flavour.LANZABOOTE_LEGACY):
            return cls(every, hashes_required=True)
        if flavour == Flavour.WORKBENCH_FAT:
            # The files are embedded: only their optional hashes can change.
            editable = (Field.CMDLINE, Field.KERNEL_HASH, Field.INITRD_HASH)
            return cls({name: every[name] for name in editable}, hashes_required=False)
        return cls({Field.CMDLINE: every[Field.CMDLINE]}, hashes_required=False)


ROLE_FIELDS = {
    "kernel": (Field.KERNEL_PATH, Field.KERNEL_HASH),
    "initrd": (Field.INITRD_PATH, Field.INITRD_HASH),
}
EMBEDDED = (Flavour.WORKBENCH_FAT, Flavour.UKI)


def hash_error(text: str) -> str | None:
    if not text:
        return None
    bad = next((index for index, char in enumerate(text) if char not in HEX_DIGITS), None)
    if bad is not None:
        return f"not a hex digit at position {bad + 1}: {text[bad]!r}"
    if len(text) != 64:
        return f"{len(text)} hex digits; a SHA-256 has 64"
    return None


def path_error(text: str) -> str | None:
    if not text:
        return None
    try:
        parse_stub_path(text)
    except WorkbenchError as error:
        return str(error)
    return None


def check_hash(text: str, what: str) -> bytes:
    """A SHA-256 in hex as bytes; BadInput naming `what` otherwise."""
    text = text.strip()
    problem = hash_error(text) if text else "empty"
    if problem:
        raise BadInput(f"{what}: expected 64 hex digits ({problem})")
    return bytes.fromhex(text)


def check_path(text: str, what: str) -> str:
    """A path the stub accepts; BadInput naming `what` otherwise."""
    if not text or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise BadInput(f"{what}: a path must be non-empty without control characters")
    problem = path_error(text)
    if problem:
        raise BadInput(f"{what} {text!r}: {problem}")
    return text


def check_cmdline(text: str, what: str) -> bytes:
    if "\0" in text:
        raise BadInput(f"{what}: the command line must not contain NUL")
    return text.encode("utf-8")


def hash_under_root(root: Path, role: str, path: str) -> bytes:
    """The SHA-256 of the file `path` names under ROOT, found as the firmware would."""
    if not Path(root).is_dir():
        raise BadInput(f"{root} is not a directory")
    found = locate(Path(root), parse_stub_path(path))
    if found is None:
        raise BadInput(f"{role} {path}: not found under {root}")
    try:
        return file_sha256(found)
    except OSError as error:
        raise BadInput(f"cannot read {found}: {error.strerror}") from None


def policy_change(image: PeImage, updates: Mapping[str, str]) -> bytes | None:
    """The new `.policy` text: `updates` applied (an empty value removes the key)."""
    current = image.section(contract.POLICY)
    policy = parse_policy(image.section_data(current).decode("utf-8", "replace")) if current else {}
    validate_policy({key: value for key, value in updates.items() if value})
    for key, value in updates.items():
        if value:
            policy[key] = value
        else:
            policy.pop(key, None)
    return format_policy(policy).encode() if policy else None


def check_kernel_arch(
    image: PeImage, changes: Mapping[str, bytes | None], root: Path | None = None
) -> None:
    """BadInput when the edit gives the stub a kernel of the other architecture: new `.linux`
    bytes (fat), or a new kernel path or hash naming such a file under `root` (default: the
    tree the stub sits in). The stub would refuse that kernel at every boot."""
    sections = field_sections(detect_flavour(image))
    path_section, hash_section = sections[Field.KERNEL_PATH], sections[Field.KERNEL_HASH]
    if path_section not in changes and hash_section not in changes:
        return
    new = changes.get(path_section)
    if new is not None and new[:2] == b"MZ":
        machine, what = bytes_machine(new), "the new .linux"
    else:
        current = image.section(path_section)
        text = (new if path_section in changes else None) or (
            image.section_data(current) if current is not None else b""
        )
        path = text.decode("utf-8", "replace")
        root = root if root is not None else tree_of(image.path)
        if root is None or not path or path_error(path):
            return
        found = locate(Path(root), parse_stub_path(path))
        if found is None:
            return
        machine, what = file_machine(found), f"kernel {path} ({found})"
    refusal = stub_refusal(image.machine, machine)
    if refusal and machine is not None:
        raise BadInput(f"{what} is an {machine_label(machine)} kernel and {image.path} an "
                       f"{machine_label(image.machine)} stub: the stub refuses it")  # fmt: skip


Signing = Literal["refuse", "drop", "resign"]


def write_stub(source: Path, changes: Mapping[str, bytes | None], target: Path | None = None,
               *, signing: Signing = "refuse", keys: Path | None = None,
               root: Path | None = None) -> None:  # fmt: skip
    """Apply section changes; the target is replaced once, atomically. A signed source needs
    "drop" (write it unsigned) or "resign" (edit into a scratch file, sign that into place).
    A kernel of the other architecture (check_kernel_arch, files under `root`) is refused
    before anything is written."""
    with PeImage.open(source) as image:
        check_kernel_arch(image, changes, root)
    target = Path(target or source)
    if signing != "resign":
        rewrite_sections(source, dict(changes), target, signed=signing)
        return
    if keys is None:
        raise BadInput("re-signing needs a KEYDIR")
    # The scratch file is new in a private directory, so it takes the mode a new target would
    # (the source's, less the umask), and signing it into place keeps that or the target's.
    try:
        scratch_directory = tempfile.TemporaryDirectory(
            prefix=f".{target.name}.", dir=target.parent
        )
    except OSError as error:
        raise WorkbenchError(f"cannot write {target}: {error.strerror or error}") from None
    with scratch_directory as directory:
        scratch = Path(directory) / target.name
        rewrite_sections(source, dict(changes), scratch, signed="drop")
        sign(scratch, keys, target)
