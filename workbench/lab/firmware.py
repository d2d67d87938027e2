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

from workbench.arch import X86_64, Arch, by_name
from workbench.errors import MissingTool


def default_descriptor_dirs() -> tuple[Path, ...]:
    """Most specific first: the user's, the administrator's, the distribution's."""
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return (
        config_home / "qemu" / "firmware",
        Path("/etc/qemu/firmware"),
        Path("/usr/share/qemu/firmware"),
    )


@dataclass(frozen=True)
class Firmware:
    code: Path
    vars_template: Path
    requires_smm: bool
    description: Path
    arch: str = X86_64.name  # the machines it runs on (workbench.arch)


def _descriptor_files(dirs: tuple[Path, ...]) -> list[Path]:
    chosen: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.glob("*.json"):
            chosen.setdefault(path.name, path)
    # An empty file masks the descriptors of the same name below it.
    return [chosen[name] for name in sorted(chosen) if chosen[name].stat().st_size > 0]


def _targets(descriptor: dict, arch: Arch) -> bool:
    """UEFI for the arch's lab machine (q35 for x86_64, virt for aarch64) from flash."""
    if "uefi" not in descriptor.get("interface-types", []):
        return False
    if not any(
        target.get("architecture") == arch.name
        and any(
            fnmatch.fnmatch(arch.qemu_machine, machine) for machine in target.get("machines", [])
        )
        for target in descriptor.get("targets", [])
    ):
        return False
    mapping = descriptor.get("mapping", {})
    return mapping.get("device") == "flash" and "nvram-template" in mapping


def _fits(descriptor: dict, secure_boot: bool, arch: Arch = X86_64) -> bool:
    if not _targets(descriptor, arch):
        return False
    features = set(descriptor.get("features", []))
    if secure_boot:
        # We enroll our own keys, so a store with Microsoft's (or anyone's) keys is no use.
        return "secure-boot" in features and "enrolled-keys" not in features
    return "secure-boot" not in features


def _files(descriptor: dict) -> tuple[Path, Path]:
    mapping = descriptor["mapping"]
    return Path(mapping["executable"]["filename"]), Path(mapping["nvram-template"]["filename"])


def _descriptors(dirs: tuple[Path, ...], arch: Arch) -> list[tuple[Path, dict]]:
    found = []
    for path in _descriptor_files(dirs):
        try:
            descriptor = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(descriptor, dict) and _targets(descriptor, arch):
            found.append((path, descriptor))
    return found


def _secure_code_with_enrolled_store(
    descriptors: list[tuple[Path, dict]], arch: Arch
) -> Firmware | None:
    """Secure Boot firmware whose empty-store descriptor names a missing file (Debian's
    AAVMF_CODE.secboot.fd): the enrolled-keys descriptor's code and store, without SMM (arm64:
    Secure Boot is the store's PK alone). keys.prepare_vars puts the run's keys in place of
    the store's (AAVMF's blank store is unformatted flash that no tool can enroll into)."""
    for path, descriptor in descriptors:
        features = set(descriptor.get("features", []))
        if not {"secure-boot", "enrolled-keys"} <= features or "requires-smm" in features:
            continue
        code, vars_template = _files(descriptor)
        if code.is_file() and vars_template.is_file():
            return Firmware(code=code, vars_template=vars_template, requires_smm=False,
                            description=path, arch=arch.name)  # fmt: skip
    return None


def find_firmware(
    secure_boot: bool = False,
    descriptor_dirs: tuple[Path, ...] | None = None,
    arch: Arch | str = X86_64,
) -> Firmware:
    """The first descriptor fitting the arch's machine (q35/x86_64, virt/aarch64) for UEFI with
    a VARS template, with or without Secure Boot."""
    arch = by_name(arch) if isinstance(arch, str) else arch
    if descriptor_dirs is None:
        descriptor_dirs = default_descriptor_dirs()
    descriptors = _descriptors(descriptor_dirs, arch)
    for path, descriptor in descriptors:
        if not _fits(descriptor, secure_boot, arch):
            continue
        code, vars_template = _files(descriptor)
        if not (code.is_file() and vars_template.is_file()):
            continue
        return Firmware(
            code=code,
            vars_template=vars_template,
            requires_smm="requires-smm" in descriptor.get("features", []),
            description=path,
            arch=arch.name,
        )
    if secure_boot and arch is not X86_64:
        # x86_64's Secure Boot needs the SMM build, which has an empty-store descriptor.
        fallback = _secure_code_with_enrolled_store(descriptors, arch)
        if fallback is not None:
            return fallback
    kind = "Secure Boot UEFI firmware without enrolled keys" if secure_boot else "UEFI firmware"
    searched = ", ".join(str(d) for d in descriptor_dirs)
    machine = arch.qemu_machine.partition("-")[0] if arch is not X86_64 else "q35"
    raise MissingTool(
        f"no {kind} for {arch.name} {machine} found in {searched} (install {arch.firmware_package})"
    )
