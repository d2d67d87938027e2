"""Where a stub's file is found under a root, the way each medium finds it.

The firmware's FAT driver matches names without regard to case. The lab's TFTP and HTTP
servers (workbench.lab.tftp, workbench.lab.http) take names exactly and refuse any that leave
their root, symlinks included.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from workbench.arch import ARCHES
from workbench.paths import StubPath

NOT_SERVED = "TFTP error: file not found"
REFUSED = "TFTP error: access denied"


def find_on_esp(root: Path, parts: Sequence[str]) -> Path | None:
    """The file at `parts` under `root`, each component matched as FAT does (case-insensitive).

    An exact name wins; two names that differ only in case cannot both sit on a FAT volume, so
    such a tie finds nothing rather than guessing.
    """
    current = Path(root)
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            matches = [
                entry for entry in current.iterdir() if entry.name.casefold() == part.casefold()
            ]
        except OSError:
            return None
        if len(matches) != 1:
            return None
        current = matches[0]
    return current if current.is_file() else None


def leaves_root(root: Path, name: str) -> bool:
    """True when `name` under `root` resolves (through symlinks) outside `root`."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, name))
    return os.path.commonpath([real, real_root]) != real_root


def find_served(root: Path, name: str) -> tuple[Path | None, str | None]:
    """What the TFTP server sends for `name`: the file, or None and the error the stub reports.

    Same order as the server: a name that leaves the root is refused before the disk is looked at.
    """
    if leaves_root(root, name):
        return None, REFUSED
    candidate = Path(root) / name
    if not candidate.is_file():
        return None, NOT_SERVED
    return candidate.resolve(), None


def locate(root: Path, path: StubPath) -> Path | None:
    """The file a stub path names under `root`: served (TFTP or HTTP) for a URL, else from the
    ESP."""
    if path.scheme == "http":
        return find_served(root, urllib.parse.unquote(path.tftp_name))[0]
    if path.is_url:
        return find_served(root, path.tftp_name)[0]
    return find_on_esp(root, path.esp_parts)


def tree_of(stub: Path) -> Path | None:
    """The tree the stub sits in, when it sits at ROOT/EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI
    (any case, like FAT)."""
    parts = Path(stub).resolve().parts
    for arch in ARCHES:
        boot_parts = Path(arch.boot_path).parts
        if len(parts) <= len(boot_parts):
            continue
        tail = [part.casefold() for part in parts[-len(boot_parts) :]]
        if tail == [part.casefold() for part in boot_parts]:
            return Path(*parts[: -len(boot_parts)])
    return None
