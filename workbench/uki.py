"""What systemd's UKI format has gained: profiles, per-section roles, and the signed PCR policy.

- Multi-profile UKIs: the sections before the first `.profile` are the base; each `.profile`
  (os-release style `ID=`, `TITLE=`) starts a profile, and the sections after it, up to the next
  `.profile`, belong to it and override the base's sections of the same name at boot.
- `.pcrsig`: JSON (NUL-terminated), per hash bank a list of `{pcrs, pkfp, pol, sig}`;
  `.pcrpkey`: the PEM public key; `pkfp` is the SHA-256 of that key's DER encoding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from workbench.pe.image import PeImage, Section

PROFILE = ".profile"
# What each UKI section is (systemd's uki.h; the order is the PCR 11 measurement order).
SECTION_ROLES = {
    ".linux": "kernel",
    ".osrel": "os-release",
    ".cmdline": "kernel command line",
    ".initrd": "initrd",
    ".ucode": "microcode initrd, loaded first",
    ".splash": "boot splash (BMP)",
    ".dtb": "devicetree",
    ".dtbauto": "devicetree chosen by the hardware's CHID",
    ".hwids": "hardware IDs (CHIDs) for .dtbauto and .efifw",
    ".efifw": "firmware chosen by the hardware's CHID",
    ".uname": "kernel release (uname -r)",
    ".sbat": "SBAT revocation data",
    ".pcrsig": "signed PCR 11 policy (JSON)",
    ".pcrpkey": "public key of the PCR policy (PEM)",
    ".profile": "profile: ID=, TITLE=",
}


@dataclass
class Profile:
    index: int  # 0 is the base (everything before the first .profile)
    id: str | None
    title: str | None
    sections: list[str] = field(default_factory=list)


@dataclass
class PcrSignature:
    bank: str
    pcrs: list[int]
    key_fingerprint: str | None  # `pkfp`, hex
    matches_key: bool | None  # against .pcrpkey; None without a key


@dataclass
class PcrPolicy:
    key_fingerprint: str | None = None  # SHA-256 of .pcrpkey's DER public key
    signatures: list[PcrSignature] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _key_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return values


def profiles(image: PeImage) -> list[Profile]:
    """The base and every profile with the names of its sections; [] without `.profile`."""
    if image.section(PROFILE) is None:
        return []
    result = [Profile(0, None, None)]
    for section in image.sections:
        if section.name == PROFILE:
            fields = _key_values(_text(image, section))
            result.append(Profile(len(result), fields.get("ID"), fields.get("TITLE")))
        else:
            result[-1].sections.append(section.name)
    # The base starts after the stub's own sections: only UKI payload names count there.
    result[0].sections = [name for name in result[0].sections if name in SECTION_ROLES]
    return result


def _text(image: PeImage, section: Section) -> str:
    return image.section_data(section).rstrip(b"\0").decode("utf-8", "replace")


def key_fingerprint(pem: bytes) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, as systemd's `pkfp`."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    return hashlib.sha256(der).hexdigest()


def pcr_policy(image: PeImage) -> PcrPolicy | None:
    """`.pcrsig` and `.pcrpkey` decoded and checked against each other; None when absent."""
    signature_section, key_section = image.section(".pcrsig"), image.section(".pcrpkey")
    if signature_section is None and key_section is None:
        return None
    policy = PcrPolicy()
    if key_section is not None:
        try:
            policy.key_fingerprint = key_fingerprint(image.section_data(key_section).rstrip(b"\0"))
        except (ValueError, TypeError) as error:
            policy.problems.append(f".pcrpkey is not a PEM public key: {error}")
    if signature_section is None:
        return policy
    try:
        document: Any = json.loads(_text(image, signature_section))
    except json.JSONDecodeError as error:
        policy.problems.append(f".pcrsig is not JSON: {error.msg}")
        return policy
    if not isinstance(document, dict):
        policy.problems.append(".pcrsig is not a JSON object of hash banks")
        return policy
    for bank, entries in document.items():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            fingerprint = entry.get("pkfp")
            matches = None
            if policy.key_fingerprint is not None and isinstance(fingerprint, str):
                matches = fingerprint.lower() == policy.key_fingerprint
                if not matches:
                    policy.problems.append(
                        f".pcrsig {bank} entry signed by key {fingerprint[:16]}..., "
                        f"not the .pcrpkey key {policy.key_fingerprint[:16]}..."
                    )
            pcrs = [p for p in entry.get("pcrs", []) if isinstance(p, int)]
            policy.signatures.append(PcrSignature(str(bank), pcrs, fingerprint, matches))
    return policy
