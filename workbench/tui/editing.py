"""The unsaved edits of one stub: field values, undo, and the section changes they make.

Which section holds what and how values are checked is workbench.edits, shared with
`workbench set`. Textual-free so it can be tested on its own; the Edit pane only presents it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.edits import (
    FIELD_LABELS,
    HASH_FIELDS,
    PATH_FIELDS,
    Field,
    SectionMap,
    hash_error,
    path_error,
)
from workbench.errors import BadInput
from workbench.stubinfo import StubInfo

__all__ = ["FIELD_LABELS", "EditSession", "Field", "SectionMap", "hash_error", "path_error"]


def original_values(info: StubInfo) -> dict[Field, str]:
    kernel, initrd = info.kernel, info.initrd
    return {
        Field.CMDLINE: info.cmdline or "",
        Field.KERNEL_PATH: (kernel.path or "") if kernel else "",
        Field.KERNEL_HASH: (kernel.expected_sha256 or "") if kernel else "",
        Field.INITRD_PATH: (initrd.path or "") if initrd else "",
        Field.INITRD_HASH: (initrd.expected_sha256 or "") if initrd else "",
    }


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
            raise BadInput(f"{FIELD_LABELS[name].lower()}: {problem}")
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
