"""Find OVMF through QEMU firmware descriptors (docs/interop/firmware.json in QEMU).

Descriptors live in /usr/share/qemu/firmware and /etc/qemu/firmware; a file in a more specific
directory masks one of the same name in a less specific one, and the remaining files are
considered in name order (their numeric prefix is the priority).
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import MissingTool


def default_descriptor_dirs() -> tuple[Path, ...]:
    """Most specific first: the user's, the administrator's, the distribution's."""
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return (
        config_home / "qemu" / "firmware",
        Path("/etc/qemu/firmware"),
        Path("/usr/share/qemu/firmware"),
    )


MACHINE = "pc-q35-7.2"


@dataclass(frozen=True)
class Firmware:
    code: Path
    vars_template: Path
    requires_smm: bool
    description: Path


def _descriptor_files(dirs: tuple[Path, ...]) -> list[Path]:
    chosen: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.glob("*.json"):
            chosen.setdefault(path.name, path)
    # An empty file masks the descriptors of the same name below it.
    return [chosen[name] for name in sorted(chosen) if chosen[name].stat().st_size > 0]


def _fits(descriptor: dict, secure_boot: bool) -> bool:
    if "uefi" not in descriptor.get("interface-types", []):
        return False
    targets = descriptor.get("targets", [])
    if not any(
        target.get("architecture") == "x86_64"
        and any(fnmatch.fnmatch(MACHINE, pattern) for pattern in target.get("machines", []))
        for target in targets
    ):
        return False
    mapping = descriptor.get("mapping", {})
    if mapping.get("device") != "flash" or "nvram-template" not in mapping:
        return False
    features = set(descriptor.get("features", []))
    if secure_boot:
        # We enroll our own keys, so a store with Microsoft's (or anyone's) keys is no use.
        return "secure-boot" in features and "enrolled-keys" not in features
    return "secure-boot" not in features


def find_firmware(
    secure_boot: bool = False, descriptor_dirs: tuple[Path, ...] | None = None
) -> Firmware:
    """The first descriptor fitting q35/x86_64 UEFI with a VARS template, with or without SB."""
    if descriptor_dirs is None:
        descriptor_dirs = default_descriptor_dirs()
    for path in _descriptor_files(descriptor_dirs):
        try:
            descriptor = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(descriptor, dict) or not _fits(descriptor, secure_boot):
            continue
        mapping = descriptor["mapping"]
        code = Path(mapping["executable"]["filename"])
        vars_template = Path(mapping["nvram-template"]["filename"])
        if not (code.is_file() and vars_template.is_file()):
            continue
        return Firmware(
            code=code,
            vars_template=vars_template,
            requires_smm="requires-smm" in descriptor.get("features", []),
            description=path,
        )
    kind = "Secure Boot UEFI firmware without enrolled keys" if secure_boot else "UEFI firmware"
    searched = ", ".join(str(d) for d in descriptor_dirs)
    raise MissingTool(f"no {kind} for x86_64 q35 found in {searched} (install ovmf)")
