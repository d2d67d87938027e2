"""A FAT disk image holding a tree, for OVMF to boot from (mkfs.vfat + mtools, no vvfat)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from workbench.errors import MissingTool, WorkbenchError

MIB = 1024 * 1024
# mkfs.vfat only makes FAT32 with enough clusters; below this size let it pick FAT12/16.
FAT32_FROM_MIB = 64


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise MissingTool(f"{name} not found (install dosfstools and mtools)")
    return path


def _content_bytes(root: Path) -> tuple[int, int]:
    """Total file bytes and the number of entries (files + directories) under root."""
    total = 0
    entries = 0
    for directory, dirnames, filenames in os.walk(root, followlinks=True):
        entries += len(dirnames) + len(filenames)
        for name in filenames:
            path = os.path.join(directory, name)
            try:
                total += os.stat(path).st_size
            except OSError as error:
                raise WorkbenchError(f"{path}: {error.strerror}") from None
    return total, entries


def image_size_mib(root: Path) -> int:
    """Content plus a margin for FAT metadata and cluster slack."""
    content, entries = _content_bytes(root)
    slack = entries * 4096 * 2
    return max(8, (content + slack) * 11 // 10 // MIB + 4)


def _run(command: list[str], what: str) -> None:
    environment = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise WorkbenchError(f"{what} failed: {last}")


def make_esp_image(root: Path, image_path: Path) -> Path:
    """Write a FAT image of everything under root to image_path (atomically) and return it."""
    root = Path(root)
    if not root.is_dir():
        raise WorkbenchError(f"{root}: not a directory")
    size_mib = image_size_mib(root)
    temporary = image_path.with_name(f".{image_path.name}.tmp{os.getpid()}")
    try:
        temporary.unlink(missing_ok=True)
        command = [_tool("mkfs.vfat"), "-C", "-n", "ESP"]
        if size_mib >= FAT32_FROM_MIB:
            command += ["-F", "32"]
        _run([*command, str(temporary), str(size_mib * 1024)], "mkfs.vfat")
        entries = sorted(root.iterdir())
        if entries:
            _run(
                [_tool("mcopy"), "-s", "-Q", "-i", str(temporary), *map(str, entries), "::/"],
                "mcopy",
            )
        os.replace(temporary, image_path)
    finally:
        temporary.unlink(missing_ok=True)
    return image_path
