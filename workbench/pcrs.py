"""What a stub extends into the TPM's PCRs before the kernel starts, computed from the file.

Each measured section gives two EV_IPL events in PCR 11: the section name with its NUL, then
the section's bytes (systemd-stub's scheme, which our stub follows; stub/FORMAT.md). A PCR
starts at zero and each event extends it: PCR = H(PCR || H(data)), per hash bank.

Which sections, in which order:
- our stub (thin and fat): stub/src/pcr11.c, the UKI order then `.linuxh .initrdh .policy`;
  the bytes the firmware loads (VirtualSize, capped by SizeOfRawData);
- systemd-stub before v254 (Debian's 252): `.linux .osrel .cmdline .initrd .splash .dtb
  .pcrpkey`; newer systemd-stub and lanzaboote (its `UnifiedSection` order): the UKI order
  up to `.efifw`; the section's VirtualSize bytes as loaded (zero-filled past the raw data).
PCR 12 gets the command line only when it comes from somewhere other than the stub's own
`.cmdline`: never for our stub, and not for a UKI with `.cmdline`; it stays at zero here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

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
UKI_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".dtbauto",
             ".hwids", ".uname", ".sbat", ".pcrpkey", ".profile", ".efifw")  # fmt: skip
WORKBENCH_ORDER = (*UKI_ORDER, ".linuxh", ".initrdh", ".policy")
SYSTEMD_252_ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey")
_SYSTEMD_VERSION = re.compile(rb"systemd-stub (\d+)")


@dataclass
class PcrEvent:
    pcr: int
    section: str
    part: str  # "name" or "data"
    digests: dict[str, str]  # bank -> hex digest of the event data


@dataclass
class PcrPrediction:
    scheme: str  # "workbench", "systemd-stub 252", "systemd-stub", "lanzaboote"
    banks: dict[str, dict[str, str]]  # bank -> {"11": hex, "12": hex}
    events: list[PcrEvent] = field(default_factory=list)

    def to_json(self) -> dict[str, dict[str, str]]:
        return self.banks


def systemd_stub_version(image: PeImage) -> int | None:
    section = image.section(".sdmagic")
    if section is None:
        return None
    match = _SYSTEMD_VERSION.search(image.section_data(section))
    return int(match.group(1)) if match else None


def _scheme(image: PeImage) -> tuple[str, tuple[str, ...], bool]:
    """(scheme, sections in order, whether the data is VirtualSize with zero fill)."""
    flavour = detect_flavour(image)
    if flavour in (Flavour.WORKBENCH_THIN, Flavour.WORKBENCH_FAT):
        return "workbench", WORKBENCH_ORDER, False
    if flavour in (Flavour.LANZABOOTE, Flavour.LANZABOOTE_LEGACY):
        return "lanzaboote", UKI_ORDER, True
    if flavour == Flavour.UKI:
        version = systemd_stub_version(image)
        if version is not None and version < 254:
            return f"systemd-stub {version}", SYSTEMD_252_ORDER, True
        return "systemd-stub", UKI_ORDER, True
    raise BadInput(f"{image.path}: not a stub that measures ({flavour})")


def scheme_sections(image: PeImage) -> tuple[str, ...]:
    """The sections whose change moves PCR 11, for this stub."""
    return _scheme(image)[1]


def _loaded_bytes(image: PeImage, section: Section, virtual: bool) -> bytes:
    data = image.section_data(section)
    if virtual and section.virtual_size > len(data):
        data += bytes(section.virtual_size - len(data))
    return data


def predict(image: PeImage, banks: tuple[str, ...] = ("sha256",)) -> PcrPrediction:
    """The PCR 11 and 12 values at the moment the kernel starts, for each bank asked for."""
    unknown = [bank for bank in banks if bank not in BANKS]
    if unknown:
        raise BadInput(f"unknown PCR bank {unknown[0]!r} (sha256, sha384 or sha1)")
    scheme, order, virtual = _scheme(image)
    values = {bank: bytes(BANKS[bank]().digest_size) for bank in banks}
    events: list[PcrEvent] = []
    for name in order:
        section = image.section(name)
        if section is None:
            continue
        for part, data in (("name", name.encode() + b"\0"),
                           ("data", _loaded_bytes(image, section, virtual))):  # fmt: skip
            digests = {bank: BANKS[bank](data).digest() for bank in banks}
            for bank, digest in digests.items():
                values[bank] = BANKS[bank](values[bank] + digest).digest()
            events.append(PcrEvent(PCR_KERNEL_IMAGE, name, part,
                                   {bank: d.hex() for bank, d in digests.items()}))  # fmt: skip
    zero = {bank: bytes(BANKS[bank]().digest_size).hex() for bank in banks}
    return PcrPrediction(
        scheme=scheme,
        banks={
            bank: {str(PCR_KERNEL_IMAGE): values[bank].hex(), str(PCR_KERNEL_CONFIG): zero[bank]}
            for bank in banks
        },
        events=events,
    )
