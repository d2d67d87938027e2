"""What a stub extends into the TPM's PCRs before the kernel starts, computed from the file.

Each measured section gives two EV_IPL events in PCR 11: the section name with its NUL, then
the section's bytes; both are logged with the name as UTF-16 for event data (systemd-stub's
scheme, which our stub follows; stub/FORMAT.md 6a). Newer systemd-stub logs its newer
measurements (addons, profiles, SMBIOS) as EV_EVENT_TAG, but keeps EV_IPL for these. A PCR
starts at zero and each event extends it: PCR = H(PCR || H(data)), per hash bank.

Which sections, in which order, and how each stub finds them (`Rules`):
- our stub (thin and fat): stub/src/pcr11.c, systemd's UKI order then `.linuxh .initrdh
  .policy`; the first section of a name; one with VirtualSize 0 is absent; VirtualSize bytes
  as loaded (zero-filled past the raw data), as systemd-stub.
- systemd-stub, by the version `.sdmagic` names (src/fundamental/uki.h of each release; the
  newest rules when no version is found): the section's VirtualSize bytes as loaded
  (zero-filled past the raw data), VirtualSize 0 absent.
  - 252, 253 (Debian 12): `.linux .osrel .cmdline .initrd .splash .dtb .pcrpkey`;
  - 254, 255 add `.uname .sbat` after `.dtb`; 256 adds `.ucode` after `.initrd`;
  - before 257 a section is found by prefix (a `.dtbauto` header answers for `.dtb`) and the
    last matching header wins; from 257 the name must match and the first header wins, and
    the default profile's sections of a multi-profile UKI replace the base's;
  - 257 adds `.profile .dtbauto .hwids` after `.pcrpkey`, 258 `.efifw`. A `.dtbauto` or
    `.efifw` counts only when the machine's hardware IDs select it: predicted as not selected.
- lanzaboote (its `UnifiedSection` order: `.linux .osrel .cmdline .initrd .ucode .splash .dtb
  .hwids .uname .sbat .pcrpkey`, no `.dtbauto`): every header of a measured name, empty ones
  too; `.linux` and `.initrd` measure the kernel and initrd files the stub loaded; the event
  data is the name in UTF-16 without a NUL.
PCR 12 gets the command line only when it comes from somewhere other than the stub's own
`.cmdline`: never for our stub, and not for a UKI with `.cmdline`; it stays at zero here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from workbench import contract
from workbench.errors import BadInput
from workbench.pe.image import PeImage, Section
from workbench.stubinfo import Flavour, detect_flavour

BANKS: dict[str, Callable[..., hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha1": hashlib.sha1,
}
PCR_KERNEL_IMAGE = 11
PCR_KERNEL_CONFIG = 12
# systemd's src/fundamental/uki.h, "PLEASE DO NOT REORDER" (`.pcrsig` is never measured).
UKI_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
             ".sbat", ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw")  # fmt: skip
WORKBENCH_ORDER = (*UKI_ORDER, ".linuxh", ".initrdh", ".policy")
SYSTEMD_252_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey")
SYSTEMD_254_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".uname",
                     ".sbat", ".pcrpkey")  # fmt: skip
SYSTEMD_256_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb",
                     ".uname", ".sbat", ".pcrpkey")  # fmt: skip
SYSTEMD_257_ORDER = (*SYSTEMD_256_ORDER, ".profile", ".dtbauto", ".hwids")
LANZABOOTE_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb",
                    ".hwids", ".uname", ".sbat", ".pcrpkey")  # fmt: skip
# Chosen by the machine's hardware IDs at boot; a prediction from the file assumes none is.
HARDWARE_SELECTED = (".dtbauto", ".efifw")
_SYSTEMD_VERSION = re.compile(rb"systemd-stub (\d+)")


@dataclass(frozen=True)
class Rules:
    """How one stub measures its sections into PCR 11."""

    scheme: str
    order: tuple[str, ...]
    locate: Literal["first", "last-prefix", "every"]  # which section headers answer for a name
    zero_fill: bool  # VirtualSize bytes (zeros past the raw data) rather than capped by raw data
    skip_empty: bool  # a VirtualSize of 0 means absent
    nul_in_description: bool  # the UTF-16 event data ends with a NUL
    hardware_selected: tuple[str, ...] = ()
    profiles: bool = False  # the default profile of a multi-profile UKI replaces base sections
    files_for_payload: bool = False  # .linux/.initrd measure the files loaded (lanzaboote)


WORKBENCH = Rules("workbench", WORKBENCH_ORDER, "first", zero_fill=True, skip_empty=True,
                  nul_in_description=True)  # fmt: skip
LANZABOOTE = Rules("lanzaboote", LANZABOOTE_ORDER, "every", zero_fill=True, skip_empty=False,
                   nul_in_description=False, files_for_payload=True)  # fmt: skip


def systemd_rules(version: int | None) -> Rules:
    """systemd-stub's rules for a release; the newest ones when the version is unknown."""
    scheme = "systemd-stub" if version is None else f"systemd-stub {version}"
    if version is None or version >= 258:
        return Rules(scheme, UKI_ORDER, "first", zero_fill=True, skip_empty=True,
                     nul_in_description=True, hardware_selected=HARDWARE_SELECTED,
                     profiles=True)  # fmt: skip
    if version >= 257:
        return Rules(scheme, SYSTEMD_257_ORDER, "first", zero_fill=True, skip_empty=True,
                     nul_in_description=True, hardware_selected=(".dtbauto",),
                     profiles=True)  # fmt: skip
    order = (SYSTEMD_252_ORDER if version < 254 else
             SYSTEMD_254_ORDER if version < 256 else SYSTEMD_256_ORDER)  # fmt: skip
    return Rules(scheme, order, "last-prefix", zero_fill=True, skip_empty=True,
                 nul_in_description=True)  # fmt: skip


@dataclass
class PcrEvent:
    pcr: int
    section: str
    part: str  # "name" or "data"
    digests: dict[str, str]  # bank -> hex digest of the measured bytes
    event_data: str = ""  # hex of what the event log records with it (the UTF-16 name)


@dataclass
class PcrPrediction:
    scheme: str  # "workbench", "systemd-stub 252", "systemd-stub", "lanzaboote"
    banks: dict[str, dict[str, str]]  # bank -> {"11": hex, "12": hex}
    events: list[PcrEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the prediction had to assume

    def to_json(self) -> dict[str, dict[str, str]]:
        return self.banks


def systemd_stub_version(image: PeImage) -> int | None:
    section = image.section(".sdmagic")
    if section is None:
        return None
    match = _SYSTEMD_VERSION.search(image.section_data(section))
    return int(match.group(1)) if match else None


def rules_for(image: PeImage) -> Rules:
    flavour = detect_flavour(image)
    if flavour in (Flavour.WORKBENCH_THIN, Flavour.WORKBENCH_FAT):
        return WORKBENCH
    if flavour in (Flavour.LANZABOOTE, Flavour.LANZABOOTE_LEGACY):
        return LANZABOOTE
    if flavour == Flavour.UKI:
        return systemd_rules(systemd_stub_version(image))
    raise BadInput(f"{image.path}: not a stub that measures ({flavour})")


def scheme_sections(image: PeImage) -> tuple[str, ...]:
    """The sections whose change moves PCR 11, for this stub."""
    return rules_for(image).order


def description(name: str, rules: Rules) -> bytes:
    """The event data logged with both of a section's events."""
    return (name + ("\0" if rules.nul_in_description else "")).encode("utf-16-le")


def _candidates(image: PeImage, rules: Rules) -> list[Section]:
    """The section headers the stub looks at: with profiles, the base (before the first
    `.profile`) overridden by the default profile (the first `.profile` up to the next)."""
    sections = list(image.sections)
    starts = [i for i, s in enumerate(sections) if s.name == ".profile"]
    if not rules.profiles or not starts:
        return sections
    base = sections[: starts[0]]
    profile = sections[starts[0] : starts[1] if len(starts) > 1 else len(sections)]
    names = {s.name for s in profile}
    return [s for s in base if s.name not in names] + profile


def _located(candidates: list[Section], name: str, rules: Rules) -> list[Section]:
    if rules.locate == "every":
        return [s for s in candidates if s.name == name]
    if rules.locate == "last-prefix":
        # memcmp(header, name, strlen(name)): `.dtbauto` answers for `.dtb`.
        matches = [s for s in candidates if s.name[: len(name)] == name]
        return matches[-1:]
    return next(([s] for s in candidates if s.name == name), [])


def _payload_file(image: PeImage, section: Section, root: Path) -> bytes | None:
    from workbench.lookup import find_on_esp

    text = image.section_data(section).rstrip(b"\0").decode("utf-8", "replace")
    found = find_on_esp(root, [part for part in text.replace("\\", "/").split("/") if part])
    return found.read_bytes() if found is not None else None


def _measured(
    image: PeImage, section: Section, rules: Rules, banks: tuple[str, ...], root: Path | None
) -> dict[str, bytes]:
    """bank -> digest of the section's measured bytes."""
    if rules.files_for_payload and section.name in (contract.KERNEL, contract.INITRD):
        data = _payload_file(image, section, root) if root is not None else None
        if data is not None:
            return {bank: BANKS[bank](data).digest() for bank in banks}
        # Without the file, its SHA-256 is what lanzaboote embeds next to the path.
        digest_section = image.section(section.name + "h")
        if banks == ("sha256",) and digest_section is not None:
            return {"sha256": image.section_data(digest_section)[:32]}
        where = f"under {root}" if root is not None else "without --root"
        raise BadInput(f"lanzaboote measures the file {section.name} names: not found {where}")
    data = image.section_data(section)
    if rules.zero_fill and section.virtual_size > len(data):
        data += bytes(section.virtual_size - len(data))
    return {bank: BANKS[bank](data).digest() for bank in banks}


def _measured_sections(image: PeImage, rules: Rules) -> Iterator[tuple[str, Section]]:
    candidates = _candidates(image, rules)
    for name in rules.order:
        if name in rules.hardware_selected:
            continue
        for section in _located(candidates, name, rules):
            if rules.skip_empty and section.virtual_size == 0:
                continue
            yield name, section


def predict(
    image: PeImage, banks: tuple[str, ...] = ("sha256",), root: Path | None = None
) -> PcrPrediction:
    """The PCR 11 and 12 values at the moment the kernel starts, for each bank asked for.
    `root` is the tree the stub boots from (lanzaboote measures the files it loads)."""
    unknown = [bank for bank in banks if bank not in BANKS]
    if unknown:
        raise BadInput(f"unknown PCR bank {unknown[0]!r} (sha256, sha384 or sha1)")
    rules = rules_for(image)
    values = {bank: bytes(BANKS[bank]().digest_size) for bank in banks}
    events: list[PcrEvent] = []
    for name, section in _measured_sections(image, rules):
        event_data = description(name, rules).hex()
        name_digests = {bank: BANKS[bank](name.encode() + b"\0").digest() for bank in banks}
        for part, digests in (("name", name_digests),
                              ("data", _measured(image, section, rules, banks, root))):  # fmt: skip
            for bank, digest in digests.items():
                values[bank] = BANKS[bank](values[bank] + digest).digest()
            events.append(PcrEvent(PCR_KERNEL_IMAGE, name, part,
                                   {bank: d.hex() for bank, d in digests.items()},
                                   event_data))  # fmt: skip
    notes = [f"{name}: measured only when the machine's hardware IDs select it; predicted as "
             "not selected" for name in rules.hardware_selected
             if image.section(name) is not None]  # fmt: skip
    zero = {bank: bytes(BANKS[bank]().digest_size).hex() for bank in banks}
    return PcrPrediction(
        scheme=rules.scheme,
        banks={
            bank: {str(PCR_KERNEL_IMAGE): values[bank].hex(), str(PCR_KERNEL_CONFIG): zero[bank]}
            for bank in banks
        },
        events=events,
        notes=notes,
    )
