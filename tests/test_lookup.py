"""How a stub's file is found: FAT's case-insensitive lookup, the TFTP server's confined one."""

from __future__ import annotations

from pathlib import Path

from workbench.lookup import NOT_SERVED, REFUSED, find_on_esp, find_served, locate, tree_of
from workbench.paths import parse_stub_path


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "EFI" / "Linux").mkdir(parents=True)
    (root / "EFI" / "Linux" / "vmlinuz").write_bytes(b"kernel")
    return root


def test_esp_lookup_ignores_case_but_prefers_the_exact_name(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert find_on_esp(root, ("efi", "LINUX", "VMLinuz")) == root / "EFI" / "Linux" / "vmlinuz"
    (root / "EFI" / "Linux" / "VMLINUZ").write_bytes(b"other")
    assert find_on_esp(root, ("EFI", "Linux", "VMLINUZ")).read_bytes() == b"other"
    # Two names that differ only in case cannot both be on FAT: no guess.
    assert find_on_esp(root, ("EFI", "Linux", "Vmlinuz")) is None
    assert find_on_esp(root, ("EFI", "Linux")) is None  # a directory is not a file


def test_served_names_are_exact_and_confined(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert find_served(root, "EFI/Linux/vmlinuz") == ((root / "EFI/Linux/vmlinuz").resolve(), None)
    assert find_served(root, "efi/linux/vmlinuz") == (None, NOT_SERVED)
    assert find_served(root, "EFI/Linux") == (None, NOT_SERVED)
    (root / "escape").symlink_to(tmp_path / "nowhere")
    assert find_served(root, "escape") == (None, REFUSED)
    (root / "inside").symlink_to(root / "EFI" / "Linux" / "vmlinuz")
    assert find_served(root, "inside")[0] == (root / "EFI/Linux/vmlinuz").resolve()


def test_locate_follows_the_path_form(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert locate(root, parse_stub_path("\\efi\\linux\\vmlinuz")) is not None
    assert locate(root, parse_stub_path("tftp://10.0.2.9/efi/linux/vmlinuz")) is None
    assert locate(root, parse_stub_path("tftp://10.0.2.9/EFI/Linux/vmlinuz")) is not None


def test_tree_of_a_stub_matches_the_boot_path_in_any_case(tmp_path: Path) -> None:
    assert tree_of(tmp_path / "esp" / "efi" / "Boot" / "BOOTx64.efi") == (tmp_path / "esp")
    assert tree_of(tmp_path / "esp" / "EFI" / "Linux" / "BOOTX64.EFI") is None
    assert tree_of(Path("/BOOTX64.EFI")) is None
