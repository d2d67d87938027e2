"""What a stub is and what it will do: flavour detection and decoding of the known sections."""

from __future__ import annotations

import csv
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from workbench import contract
from workbench.arch import machine_label
from workbench.errors import WorkbenchError
from workbench.kernel_arch import file_machine, label, mix_problem, section_machine
from workbench.lookup import locate, tree_of
from workbench.paths import parse_stub_path
from workbench.pe.image import PeImage, Section, SignatureInfo
from workbench.uki import SECTION_ROLES, PcrPolicy, Profile, pcr_policy, profiles

# `.policy` keys the stub understands (stub/FORMAT.md), with a check for each value.
POLICY_KEYS: dict[str, str] = {
    "on-error": "reset, halt or exit",
    "error-delay": "seconds, 0 to 600",
    "source": "auto, local, net (TFTP) or http",
    "tftp-blksize": "TFTP block size, 512 to 65464",
    "tftp-window": "TFTP window, 1 to 256",
    "fetch-timeout": "seconds one file may take over the network, 1 to 3600",
    "net-stack": "own (the stub's own TCP/IP over the NIC driver) or firmware",
    "log": "on (console lines also over syslog when netbooted) or off",
}

# Decimal numbers and their ranges, as the stub reads them (stub/src/policy.c).
_NUMBER_RANGES = {
    "error-delay": (0, 600, 3),
    "tftp-blksize": (512, 65464, 5),
    "tftp-window": (1, 256, 5),
    "fetch-timeout": (1, 3600, 4),
}


def _policy_value_ok(key: str, value: str) -> bool:
    if key == "on-error":
        return value in ("reset", "halt", "exit")
    if key == "source":
        return value in ("auto", "local", "net", "http")
    if key == "net-stack":
        return value in ("own", "firmware")
    if key == "log":
        return value in ("on", "off")
    if key in _NUMBER_RANGES:
        low, high, digits = _NUMBER_RANGES[key]
        return (
            value.isascii() and value.isdigit() and len(value) <= digits
            and low <= int(value) <= high
        )  # fmt: skip
    return False


def validate_policy(policy: Mapping[str, str]) -> dict[str, str]:
    """Check every key and value; a clear error for the first bad one."""
    checked: dict[str, str] = {}
    for key, value in policy.items():
        if key not in POLICY_KEYS:
            raise WorkbenchError(f"unknown policy key {key!r} (known: {', '.join(POLICY_KEYS)})")
        if not isinstance(value, str) or not _policy_value_ok(key, value):
            raise WorkbenchError(f"bad policy value {key}={value!r}: {POLICY_KEYS[key]}")
        checked[key] = value
    return checked


def parse_policy_argument(text: str) -> tuple[str, str]:
    """`KEY=VALUE` from the command line."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise WorkbenchError(f"bad policy setting {text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


def format_policy(policy: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in policy.items())


def parse_policy(text: str) -> dict[str, str]:
    """`key=value` lines as the stub reads them (blank lines and `#` comments skipped)."""
    policy: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        policy[key.strip()] = value.strip()
    return policy


# -- describing a stub ---------------------------------------------------------------------------


class Flavour(StrEnum):
    WORKBENCH_THIN = "workbench-thin"
    WORKBENCH_FAT = "workbench-fat"
    LANZABOOTE = "lanzaboote"
    LANZABOOTE_LEGACY = "lanzaboote-legacy"
    UKI = "uki"
    EFI_APP = "efi-app"


@dataclass
class FileRef:
    role: str  # "kernel" | "initrd"
    path: str | None  # thin stubs: the path text as the stub reads it
    embedded_size: int | None  # fat stubs and UKIs: bytes carried in the section
    expected_sha256: str | None  # hex, from the hash section
    hash_problem: str | None  # e.g. "missing", "wrong length 31"
    # The kernel's architecture ("x86_64", "arm64"): of the embedded bytes, or of the file the
    # path names in the stub's tree; None when unknown (no tree, no file, not a PE image).
    arch: str | None = None


@dataclass
class SectionInfo:
    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int
    characteristics: int
    sha256: str  # "" when describe() was asked not to hash
    kind: str  # "text" | "hex" | "size"
    value: str  # the text, the hex digits, or "<n> bytes"


@dataclass
class StubInfo:
    flavour: Flavour
    kernel: FileRef | None
    initrd: FileRef | None
    cmdline: str | None
    osrel: dict[str, str]
    uname: str | None
    sbat: list[list[str]]
    policy: dict[str, str]
    sizes: dict[str, int]
    signed: bool
    signature: SignatureInfo | None
    sections: list[SectionInfo]
    warnings: list[str] = field(default_factory=list)
    marker: str | None = None  # the `.wbstub` text, e.g. "stub-workbench 0.1.0"
    profiles: list[Profile] = field(default_factory=list)  # multi-profile UKIs: base first
    pcr_policy: PcrPolicy | None = None  # .pcrsig / .pcrpkey
    arch: str = ""  # the stub's own architecture: "x86_64", "arm64" or "machine 0x.."
    arch_problem: str | None = None  # a kernel of the other architecture (also in warnings)


HASH_SECTIONS = {contract.KERNEL_HASH, contract.INITRD_HASH, contract.LEGACY_KERNEL_HASH}
SIZED_SECTIONS = (".splash", ".dtb", ".pcrsig", ".pcrpkey", ".ucode")
TEXT_LIMIT = 64 * 1024
X86_COMMAND_LINE_SIZE = 2048  # COMMAND_LINE_SIZE of x86 Linux, NUL included
HEX_LIMIT = 64


def _text_of(data: bytes) -> str | None:
    """The data as text when it is printable UTF-8 (trailing NULs allowed), else None."""
    if len(data) > TEXT_LIMIT:
        return None
    stripped = data.rstrip(b"\0")
    if data and not stripped:
        return None  # all NULs: binary, shown as hex
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(not char.isprintable() and char not in "\n\r\t" for char in text):
        return None
    return text


def _section_info(image: PeImage, section: Section, hashes: bool) -> SectionInfo:
    sha256 = image.section_sha256(section) if hashes else ""
    size = section.data_size
    text = None if section.name in HASH_SECTIONS else _text_of(_head(image, section))
    if text is not None:
        kind, value = "text", text
    elif size <= HEX_LIMIT:
        kind, value = "hex", image.section_data(section).hex()
    else:
        kind, value = "size", f"{size} bytes"
    return SectionInfo(section.name, section.virtual_address, section.virtual_size,
                       section.raw_offset, section.raw_size, section.characteristics,
                       sha256, kind, value)  # fmt: skip


def _head(image: PeImage, section: Section) -> bytes:
    """Small sections whole; large ones are never text, so do not copy them."""
    if section.data_size > TEXT_LIMIT:
        return b"\xff"
    return image.section_data(section)


def parse_osrel(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("\"'")]
        values[key.strip()] = " ".join(parts)
    return values


def parse_sbat(text: str) -> list[list[str]]:
    return [next(csv.reader([line])) for line in text.splitlines() if line.strip()]


def detect_flavour(image: PeImage) -> Flavour:
    linux = image.section(contract.KERNEL)
    linux_is_kernel = (
        linux is not None and image.read(linux.raw_offset, 2) == b"MZ" and (linux.data_size >= 2)
    )
    if image.section(contract.WB_MAGIC) is not None:
        return Flavour.WORKBENCH_FAT if linux_is_kernel else Flavour.WORKBENCH_THIN
    if linux_is_kernel:
        return Flavour.UKI
    if image.section(contract.LEGACY_KERNEL_PATH) is not None:
        return Flavour.LANZABOOTE_LEGACY
    if linux is not None and (
        image.section(contract.KERNEL_HASH) is not None
        or image.section(contract.INITRD_HASH) is not None
    ):
        return Flavour.LANZABOOTE
    return Flavour.EFI_APP


def _hash_of(image: PeImage, name: str) -> tuple[str | None, str | None]:
    """(hex digest, problem) of a raw 32-byte SHA-256 section."""
    section = image.section(name)
    if section is None:
        return None, "missing"
    data = image.section_data(section)
    if len(data) != contract.SHA256_SIZE:
        return None, f"wrong length {len(data)}"
    return data.hex(), None


def _path_ref(
    image: PeImage, role: str, path_section: str, hash_section: str, warnings: list[str]
) -> FileRef | None:
    section = image.section(path_section)
    if section is None:
        return None
    raw = image.section_data(section)
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        path = raw.decode("utf-8", "replace")
        warnings.append(f"{role} path in {path_section} is not valid UTF-8")
    problem = _path_problem(path)
    if problem:
        warnings.append(f"{role} path {path!r}: {problem}")
    expected, hash_problem = _hash_of(image, hash_section)
    if hash_problem:
        warnings.append(f"{role} hash {hash_section} {hash_problem}: the stub refuses to boot")
    return FileRef(role, path, None, expected, hash_problem)


def _path_problem(path: str) -> str | None:
    try:
        parse_stub_path(path)
    except WorkbenchError as error:
        return str(error)
    return None


def _embedded_ref(
    image: PeImage,
    role: str,
    section_name: str,
    hash_section: str,
    warnings: list[str],
    hashes: bool,
) -> FileRef | None:
    section = image.section(section_name)
    if section is None:
        return None
    expected, hash_problem = _hash_of(image, hash_section)
    if hash_problem == "missing":
        hash_problem = None  # optional for embedded files
    elif hash_problem:
        warnings.append(f"{role} hash {hash_section} {hash_problem}")
    elif hashes and expected != image.section_sha256(section):
        hash_problem = "does not match the embedded bytes"
        warnings.append(f"{role} hash {hash_section} does not match the embedded {role}")
    return FileRef(role, None, section.data_size, expected, hash_problem)


def _text_section(image: PeImage, name: str, warnings: list[str]) -> str | None:
    section = image.section(name)
    if section is None:
        return None
    data = image.section_data(section)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"{name} is not valid UTF-8")
        return data.decode("utf-8", "replace")


def _policy_warnings(policy: Mapping[str, str]) -> list[str]:
    warnings = []
    for key, value in policy.items():
        if key not in POLICY_KEYS:
            warnings.append(f"policy key {key!r} is unknown: the stub ignores it")
        elif not _policy_value_ok(key, value):
            warnings.append(f"policy {key}={value!r} is invalid: the stub uses the default")
    return warnings


def _kernel_arch(image: PeImage, kernel: FileRef | None, root: Path | None) -> int | None:
    """The kernel's PE machine: the embedded bytes, else the file the path names under root."""
    if kernel is None:
        return None
    if kernel.embedded_size is not None:
        section = image.section(contract.KERNEL)
        return section_machine(image, section) if section is not None else None
    if root is None or kernel.path is None or _path_problem(kernel.path):
        return None
    found = locate(root, parse_stub_path(kernel.path))
    return file_machine(found) if found is not None else None


def describe(image: PeImage, *, hashes: bool = True, root: Path | None = None) -> StubInfo:
    """Decode what a stub carries; never raises for odd contents, it warns instead.

    The kernel's architecture of a thin stub comes from the file its path names under `root`
    (default: the tree the stub sits in, when it sits at EFI/BOOT/BOOT<ARCH>.EFI); only the
    file's header is read.

    hashes=False reads no more than the small sections: no section is hashed (each
    SectionInfo.sha256 is "") and embedded files are not checked against their hash sections.
    Instant even for a 200 MiB stub; describing again with hashes=True gives the rest.
    """
    from workbench.pe.edit import check_layout  # edit imports nothing from here; keep it lazy

    warnings: list[str] = [f"layout: {problem}" for problem in check_layout(image)]
    flavour = detect_flavour(image)
    kernel = initrd = None
    if flavour == Flavour.LANZABOOTE_LEGACY:
        kernel = _path_ref(image, "kernel", contract.LEGACY_KERNEL_PATH,
                           contract.LEGACY_KERNEL_HASH, warnings)  # fmt: skip
        initrd = _path_ref(image, "initrd", contract.LEGACY_INITRD_PATH,
                           contract.INITRD_HASH, warnings)  # fmt: skip
    elif flavour in (Flavour.WORKBENCH_THIN, Flavour.LANZABOOTE):
        kernel = _path_ref(image, "kernel", contract.KERNEL, contract.KERNEL_HASH, warnings)
        initrd = _path_ref(image, "initrd", contract.INITRD, contract.INITRD_HASH, warnings)
        if kernel is None:
            warnings.append("no .linux section: the stub has no kernel to boot")
    elif flavour in (Flavour.WORKBENCH_FAT, Flavour.UKI):
        kernel = _embedded_ref(
            image, "kernel", contract.KERNEL, contract.KERNEL_HASH, warnings, hashes
        )
        initrd = _embedded_ref(
            image, "initrd", contract.INITRD, contract.INITRD_HASH, warnings, hashes
        )

    kernel_machine = _kernel_arch(image, kernel, root if root is not None else tree_of(image.path))
    if kernel is not None:
        kernel.arch = label(kernel_machine)
    mix = mix_problem(image.machine, kernel_machine)
    if mix:
        warnings.append(mix)

    cmdline = _text_section(image, contract.CMDLINE, warnings)
    if cmdline is not None and len(cmdline.encode()) >= X86_COMMAND_LINE_SIZE:
        warnings.append(
            f"cmdline is {len(cmdline.encode())} bytes: x86 Linux keeps only the first "
            f"{X86_COMMAND_LINE_SIZE - 1}"
        )
    osrel_text = _text_section(image, contract.OSREL, warnings)
    policy_text = _text_section(image, contract.POLICY, warnings)
    policy = parse_policy(policy_text) if policy_text else {}
    warnings += _policy_warnings(policy)
    sbat_text = _text_section(image, contract.SBAT, warnings)
    uname = _text_section(image, ".uname", warnings)
    marker = _text_section(image, contract.WB_MAGIC, warnings)

    found_profiles = profiles(image) if flavour == Flavour.UKI else []
    policy_of_pcrs = pcr_policy(image)
    if policy_of_pcrs is not None:
        warnings += policy_of_pcrs.problems
    signature = None
    if image.is_signed:
        try:
            signature = image.signature
        except WorkbenchError as error:
            warnings.append(str(error))
    return StubInfo(
        flavour=flavour,
        kernel=kernel,
        initrd=initrd,
        cmdline=cmdline,
        osrel=parse_osrel(osrel_text) if osrel_text else {},
        uname=uname.strip() if uname else None,
        sbat=parse_sbat(sbat_text.rstrip("\0")) if sbat_text else [],
        policy=policy,
        sizes={s.name: s.data_size for s in image.sections if s.name in SIZED_SECTIONS},
        signed=image.is_signed,
        signature=signature,
        sections=[_section_info(image, section, hashes) for section in image.sections],
        warnings=warnings,
        marker=marker.rstrip("\0").strip() if marker else None,
        profiles=found_profiles,
        pcr_policy=policy_of_pcrs,
        arch=machine_label(image.machine),
        arch_problem=mix,
    )


def to_json(info: StubInfo, image: PeImage) -> dict[str, Any]:
    """The documented `workbench inspect --json` object (docs/inspect-json.md)."""

    def file_ref(ref: FileRef | None) -> dict[str, Any] | None:
        if ref is None:
            return None
        return {
            "path": ref.path,
            "embedded_size": ref.embedded_size,
            "sha256": ref.expected_sha256,
            "hash_problem": ref.hash_problem,
            "arch": ref.arch,
        }

    signature = info.signature
    return {
        "file": str(image.path),
        "flavour": str(info.flavour),
        "marker": info.marker,
        "machine": image.machine_name,
        "arch": info.arch,
        "kernel": file_ref(info.kernel),
        "initrd": file_ref(info.initrd),
        "cmdline": info.cmdline,
        "osrel": info.osrel,
        "uname": info.uname,
        "policy": info.policy,
        "sbat": info.sbat,
        "sizes": info.sizes,
        "signed": info.signed,
        "signature": None if signature is None else {
            "subject": signature.subject,
            "issuer": signature.issuer,
            "digest_algorithm": signature.digest_algorithm,
            "count": signature.count,
        },
        "image": {
            "image_base": image.image_base,
            "section_alignment": image.section_alignment,
            "file_alignment": image.file_alignment,
            "size_of_image": image.size_of_image,
            "size_of_headers": image.size_of_headers,
            "file_size": image.file_size,
        },
        "sections": [
            asdict(section) | {"role": SECTION_ROLES.get(section.name)}
            for section in info.sections
        ],
        "profiles": [asdict(profile) for profile in info.profiles],
        "pcr_policy": asdict(info.pcr_policy) if info.pcr_policy else None,
        "warnings": info.warnings,
    }  # fmt: skip
