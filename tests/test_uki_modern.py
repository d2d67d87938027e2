"""What systemd's UKI format has gained: multi-profile UKIs, section roles, the signed PCR
policy; and edits that keep a profile UKI's order. Built from Debian's systemd-stub."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import require_file
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workbench import contract
from workbench.errors import WorkbenchError
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.stubinfo import describe, to_json

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")


def public_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.PEM, spki)


def fingerprint(pem: bytes) -> str:
    key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def profile_uki(tmp_path: Path, sample_kernel: Path) -> Path:
    """A base (os-release, cmdline, kernel) and two profiles, as ukify --join-profile lays it
    out (Debian's systemd-stub 252 has header room for about 15 sections)."""
    require_file(SYSTEMD_STUB)
    out = tmp_path / "uki.efi"
    base = {contract.OSREL: b"ID=bench\n", contract.CMDLINE: b"console=ttyS0",
            contract.KERNEL: sample_kernel.read_bytes()}  # fmt: skip
    profiles = [(".profile", b"ID=debug\nTITLE=Debug shell\n"), (".cmdline", b"debug"),
                (".profile", b"ID=rescue\n"), (".ucode", b"\0" * 16)]  # fmt: skip
    rewrite_sections(SYSTEMD_STUB, base, out=out, append=profiles)
    return out


def test_profiles_are_decoded_in_order(profile_uki: Path) -> None:
    with PeImage.open(profile_uki) as image:
        info = describe(image)
        document = to_json(info, image)
    assert [(p.index, p.id, p.title, p.sections) for p in info.profiles] == [
        (0, None, None, [".sbat", ".osrel", ".cmdline", ".linux"]),
        (1, "debug", "Debug shell", [".cmdline"]),
        (2, "rescue", None, [".ucode"]),
    ]
    assert document["profiles"][1]["id"] == "debug"
    roles = {s["name"]: s["role"] for s in document["sections"]}
    assert roles[".ucode"] == "microcode initrd, loaded first"
    assert roles[".profile"] == "profile: ID=, TITLE="
    assert not [w for w in info.warnings if w.startswith("layout")]


def test_an_edit_keeps_the_profile_order(profile_uki: Path, tmp_path: Path) -> None:
    """A base section that outgrows its slot pushes the rest up; nothing moves to the end."""
    edited = tmp_path / "edited.efi"
    bigger = b"ID=bench\n" + b"X" * 10000 + b"\n"
    rewrite_sections(profile_uki, {contract.OSREL: bigger}, out=edited)
    with PeImage.open(profile_uki) as before, PeImage.open(edited) as after:
        assert [s.name for s in after.sections] == [s.name for s in before.sections]
        assert after.section_data(contract.OSREL) == bigger
        assert [p.sections for p in describe(after).profiles] == \
            [p.sections for p in describe(before).profiles]  # fmt: skip
        # Every other payload section came through byte for byte.
        old = [before.section_sha256(s) for s in before.sections if s.name != contract.OSREL]
        new = [after.section_sha256(s) for s in after.sections if s.name != contract.OSREL]
        assert old == new


def test_ambiguous_and_homeless_edits_are_refused(profile_uki: Path, tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match=r"section \.cmdline appears 2 times"):
        rewrite_sections(profile_uki, {contract.CMDLINE: b"x"}, out=tmp_path / "a.efi")
    with pytest.raises(WorkbenchError, match=r"no place for a new section \.dtb"):
        rewrite_sections(profile_uki, {".dtb": b"x"}, out=tmp_path / "b.efi")
    assert not (tmp_path / "a.efi").exists() and not (tmp_path / "b.efi").exists()


@pytest.mark.parametrize("same_key", [True, False])
def test_the_pcr_signature_is_checked_against_its_key(same_key: bool, tmp_path: Path,
                                                     sample_kernel: Path) -> None:  # fmt: skip
    require_file(SYSTEMD_STUB)
    pem = public_pem()
    signer = pem if same_key else public_pem()
    entry = {"pcrs": [11], "pkfp": fingerprint(signer), "pol": "00", "sig": "AA=="}
    signature = {"sha256": [entry]}
    out = tmp_path / "signed-policy.efi"
    rewrite_sections(SYSTEMD_STUB, {contract.KERNEL: sample_kernel.read_bytes(),
                                    ".pcrsig": json.dumps(signature).encode() + b"\0",
                                    ".pcrpkey": pem}, out=out)  # fmt: skip
    with PeImage.open(out) as image:
        info = describe(image)
    policy = info.pcr_policy
    assert policy is not None and policy.key_fingerprint == fingerprint(pem)
    assert [(s.bank, s.pcrs, s.matches_key) for s in policy.signatures] == [
        ("sha256", [11], same_key)
    ]
    mismatch = [w for w in info.warnings if "not the .pcrpkey key" in w]
    assert bool(mismatch) != same_key
