"""ESP images: a real FAT file system holding the tree, checked with mtools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from workbench.errors import WorkbenchError
from workbench.lab.esp import make_esp_image

ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("mkfs.vfat", "mcopy", "mdir", "mtype"):
        require_tool(tool)


def mdir(image: Path, directory: str) -> set[str]:
    result = subprocess.run(
        ["mdir", "-b", "-i", str(image), directory], capture_output=True, text=True, env=ENV,
        check=True,
    )  # fmt: skip
    return {line.rstrip("/").rsplit("/", 1)[-1] for line in result.stdout.splitlines() if line}


def mtype(image: Path, path: str) -> bytes:
    return subprocess.run(
        ["mtype", "-i", str(image), path], capture_output=True, env=ENV, check=True
    ).stdout


def fat_type(image: Path) -> str:
    with open(image, "rb") as handle:
        sector = handle.read(512)
    return "FAT32" if sector[82:90].startswith(b"FAT32") else sector[54:62].decode().strip()


def test_tree_contents_are_in_the_image(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "Linux").mkdir()
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ" + os.urandom(5000))
    (root / "EFI" / "Linux" / "initrd.img").write_bytes(os.urandom(300_000))
    (root / "EFI" / "Linux" / "a long name with spaces.txt").write_text("x")
    image = make_esp_image(root, tmp_path / "esp.img")
    assert mdir(image, "::/") == {"EFI"}
    assert mdir(image, "::/EFI") == {"BOOT", "Linux"}
    assert mdir(image, "::/EFI/Linux") == {"initrd.img", "a long name with spaces.txt"}
    for relative in ("EFI/BOOT/BOOTX64.EFI", "EFI/Linux/initrd.img"):
        assert mtype(image, f"::/{relative}") == (root / relative).read_bytes()
    assert fat_type(image) in ("FAT12", "FAT16")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_big_content_gets_fat32_with_room_to_spare(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    big = root / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(70 * 1024 * 1024)
    image = make_esp_image(root, tmp_path / "esp.img")
    assert fat_type(image) == "FAT32"
    assert image.stat().st_size > big.stat().st_size
    assert mdir(image, "::/") == {"big.bin"}


def test_failure_leaves_an_existing_image_untouched(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "dangling").symlink_to(tmp_path / "missing")
    image = tmp_path / "esp.img"
    image.write_bytes(b"previous image")
    with pytest.raises(WorkbenchError, match="dangling"):
        make_esp_image(root, image)
    assert image.read_bytes() == b"previous image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esp.img", "root"]


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="not a directory"):
        make_esp_image(tmp_path / "nope", tmp_path / "esp.img")
