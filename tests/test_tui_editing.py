"""EditSession: validation, undo steps and the section changes it hands to rewrite_sections."""

from __future__ import annotations

import pytest

from workbench import contract
from workbench.errors import WorkbenchError
from workbench.stubinfo import Flavour
from workbench.tui.editing import EditSession, Field, SectionMap, hash_error, path_error

KERNEL_HASH = "ab" * 32
INITRD_HASH = "cd" * 32


def thin_session() -> EditSession:
    saved = {
        Field.CMDLINE: "console=ttyS0",
        Field.KERNEL_PATH: r"\EFI\Linux\vmlinuz",
        Field.KERNEL_HASH: KERNEL_HASH,
        Field.INITRD_PATH: r"\EFI\Linux\initrd.img",
        Field.INITRD_HASH: INITRD_HASH,
    }
    return EditSession(saved, SectionMap.for_flavour(Flavour.WORKBENCH_THIN))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", None),
        ("ab" * 32, None),
        ("AB" * 32, None),
        ("ab" * 31, "62 hex digits; a SHA-256 has 64"),
        ("ab" * 33, "66 hex digits; a SHA-256 has 64"),
        ("g" + "a" * 63, "not a hex digit at position 1: 'g'"),
        ("a" * 63 + " ", "not a hex digit at position 64: ' '"),
    ],
)
def test_hash_validation(text: str, problem: str | None) -> None:
    assert hash_error(text) == problem


def test_path_validation_uses_the_stub_rules() -> None:
    assert path_error(r"\EFI\Linux\vmlinuz") is None
    assert path_error("tftp://10.0.2.2/vmlinuz") is None
    assert path_error(r"\EFI\..\vmlinuz")
    assert path_error("tftp://server.example/vmlinuz")


def test_typing_in_one_field_is_one_undo_step() -> None:
    session = thin_session()
    for text in ("c", "co", "con"):
        session.set(Field.CMDLINE, text)
    session.set(Field.KERNEL_PATH, r"\k")
    session.end_edit()
    session.set(Field.KERNEL_PATH, r"\k2")
    assert session.dirty_fields == [Field.CMDLINE, Field.KERNEL_PATH]
    assert session.undo() and session.values[Field.KERNEL_PATH] == r"\k"
    assert session.undo() and session.values[Field.KERNEL_PATH] == r"\EFI\Linux\vmlinuz"
    assert session.undo() and session.values[Field.CMDLINE] == "console=ttyS0"
    assert not session.undo() and not session.is_dirty


def test_rehash_is_one_undo_step() -> None:
    session = thin_session()
    session.set_many({Field.KERNEL_HASH: "11" * 32, Field.INITRD_HASH: "22" * 32})
    assert session.undo()
    assert session.values[Field.KERNEL_HASH] == KERNEL_HASH
    assert session.values[Field.INITRD_HASH] == INITRD_HASH


def test_changes_map_fields_to_sections() -> None:
    session = thin_session()
    session.set(Field.CMDLINE, "console=ttyS0 quiet é")
    session.set(Field.KERNEL_HASH, "EF" * 32)
    assert session.changes() == {
        contract.CMDLINE: "console=ttyS0 quiet é".encode(),
        contract.KERNEL_HASH: bytes.fromhex("ef" * 32),
    }


def test_no_initrd_path_removes_the_initrd_and_its_hash() -> None:
    session = thin_session()
    session.set(Field.INITRD_PATH, "")
    assert session.errors() == {}
    assert session.changes() == {contract.INITRD: None, contract.INITRD_HASH: None}


def test_thin_stubs_need_a_kernel_and_its_hash() -> None:
    session = thin_session()
    session.set(Field.KERNEL_PATH, "")
    session.set(Field.KERNEL_HASH, "")
    problems = session.errors()
    assert problems[Field.KERNEL_PATH].startswith("required")
    assert problems[Field.KERNEL_HASH].startswith("required")
    with pytest.raises(WorkbenchError, match="kernel path: required"):
        session.changes()


def test_fat_and_uki_stubs_only_expose_what_they_carry() -> None:
    fat = SectionMap.for_flavour(Flavour.WORKBENCH_FAT)
    assert Field.KERNEL_PATH not in fat.sections and not fat.hashes_required
    assert set(SectionMap.for_flavour(Flavour.UKI).sections) == {Field.CMDLINE}
    legacy = SectionMap.for_flavour(Flavour.LANZABOOTE_LEGACY)
    assert legacy.sections[Field.KERNEL_PATH] == contract.LEGACY_KERNEL_PATH
