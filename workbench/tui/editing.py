"""The unsaved edits of one stub: field values, validation, undo, and the section changes.

Textual-free so it can be tested on its own; the Edit pane only presents it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from enum import StrEnum

from workbench import contract
from workbench.errors import WorkbenchError
from workbench.paths import parse_stub_path
from workbench.stubinfo import Flavour, StubInfo

HEX_DIGITS = frozenset(string.hexdigits)


class Field(StrEnum):
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


@dataclass(frozen=True)
class SectionMap:
    """Which section holds each editable field, per stub flavour."""

    sections: dict[Field, str]
    # Thin stubs refuse to run anything unverified: their hashes are required.
    hashes_required: bool

    @classmethod
    def for_flavour(cls, flavour: Flavour) -> SectionMap:
        cmdline = {Field.CMDLINE: contract.CMDLINE}
        if flavour in (Flavour.WORKBENCH_THIN, Flavour.LANZABOOTE):
            return cls(
                {
                    **cmdline,
                    Field.KERNEL_PATH: contract.KERNEL,
                    Field.KERNEL_HASH: contract.KERNEL_HASH,
                    Field.INITRD_PATH: contract.INITRD,
                    Field.INITRD_HASH: contract.INITRD_HASH,
                },
                hashes_required=True,
            )
        if flavour == Flavour.LANZABOOTE_LEGACY:
            return cls(
                {
                    **cmdline,
                    Field.KERNEL_PATH: contract.LEGACY_KERNEL_PATH,
                    Field.KERNEL_HASH: contract.LEGACY_KERNEL_HASH,
                    Field.INITRD_PATH: contract.LEGACY_INITRD_PATH,
                    Field.INITRD_HASH: contract.INITRD_HASH,
                },
                hashes_required=True,
            )
        if flavour == Flavour.WORKBENCH_FAT:
            # The files are embedded: only their optional hashes can change.
            return cls(
                {
                    **cmdline,
                    Field.KERNEL_HASH: contract.KERNEL_HASH,
                    Field.INITRD_HASH: contract.INITRD_HASH,
                },
                hashes_required=False,
            )
        return cls(cmdline, hashes_required=False)


def original_values(info: StubInfo) -> dict[Field, str]:
    kernel, initrd = info.kernel, info.initrd
    return {
        Field.CMDLINE: info.cmdline or "",
        Field.KERNEL_PATH: (kernel.path or "") if kernel else "",
        Field.KERNEL_HASH: (kernel.expected_sha256 or "") if kernel else "",
        Field.INITRD_PATH: (initrd.path or "") if initrd else "",
        Field.INITRD_HASH: (initrd.expected_sha256 or "") if initrd else "",
    }


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


@dataclass
class EditSession:
    """Current values against the saved ones, with an undo history of whole edits."""

    saved: dict[Field, str]
    layout: SectionMap
    values: dict[Field, str] = field(init=False)
    # The values before each edit; typing into one field without leaving it is one edit.
    _history: list[dict[Field, str]] = field(init=False, default_factory=list)
    _typing_in: Field | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.values = dict(self.saved)

    @classmethod
    def from_info(cls, info: StubInfo) -> EditSession:
        return cls(original_values(info), SectionMap.for_flavour(info.flavour))

    @property
    def editable(self) -> tuple[Field, ...]:
        return tuple(name for name in Field if name in self.layout.sections)

    # -- changing --

    def set(self, name: Field, value: str) -> None:
        if self.values[name] == value:
            return
        if self._typing_in != name:
            self._history.append(dict(self.values))
            self._typing_in = name
        self.values[name] = value

    def set_many(self, values: dict[Field, str]) -> None:
        """One undo step for several fields (rehash)."""
        if all(self.values[name] == value for name, value in values.items()):
            return
        self._history.append(dict(self.values))
        self._typing_in = None
        self.values.update(values)

    def end_edit(self) -> None:
        """The next keystroke starts a new undo step, even in the same field."""
        self._typing_in = None

    def undo(self) -> bool:
        """Back to the values before the last edit; False when nothing is left to undo."""
        self._typing_in = None
        if not self._history:
            return False
        self.values = self._history.pop()
        return True

    # -- state --

    @property
    def dirty_fields(self) -> list[Field]:
        return [name for name in Field if self.values[name] != self.saved[name]]

    @property
    def is_dirty(self) -> bool:
        return bool(self.dirty_fields)

    @property
    def can_undo(self) -> bool:
        return bool(self._history)

    def errors(self) -> dict[Field, str]:
        problems: dict[Field, str] = {}
        for name in self.editable:
            value = self.values[name]
            if name in PATH_FIELDS:
                problem = path_error(value)
                if problem is None and not value and name == Field.KERNEL_PATH:
                    problem = "required: the stub needs a kernel"
            elif name in HASH_FIELDS:
                problem = hash_error(value)
                if problem is None and not value and self.layout.hashes_required:
                    problem = self._missing_hash_problem(name)
            else:
                problem = "contains a NUL character" if "\0" in value else None
            if problem:
                problems[name] = problem
        return problems

    def _missing_hash_problem(self, name: Field) -> str | None:
        # An initrd hash is only needed when there is an initrd.
        if name == Field.INITRD_HASH and not self.values[Field.INITRD_PATH]:
            return None
        return "required: the stub runs nothing unverified"

    def changes(self) -> dict[str, bytes | None]:
        """Section changes for rewrite_sections (None removes a section)."""
        problems = self.errors()
        if problems:
            name, problem = next(iter(problems.items()))
            raise WorkbenchError(f"{FIELD_LABELS[name].lower()}: {problem}")
        result: dict[str, bytes | None] = {}
        for name in self.dirty_fields:
            section = self.layout.sections[name]
            value = self.values[name]
            if not value:
                result[section] = None
            elif name in HASH_FIELDS:
                result[section] = bytes.fromhex(value)
            else:
                result[section] = value.encode("utf-8")
        # No initrd path means no initrd: its hash goes too.
        if Field.INITRD_PATH in self.dirty_fields and not self.values[Field.INITRD_PATH]:
            result[self.layout.sections[Field.INITRD_HASH]] = None
        return result
