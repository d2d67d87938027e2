"""Secure Boot test keys, enrolled OVMF variable stores, and stub readiness (no boots here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_file, require_tool
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from workbench import keys
from workbench.cli import main
from workbench.errors import WorkbenchError

OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")


@pytest.fixture(scope="session")
def keydir(make_keydir: Callable[[str], Path]) -> Path:
    return make_keydir("db")


@pytest.fixture(scope="session")
def other_keydir(make_keydir: Callable[[str], Path]) -> Path:
    return make_keydir("stranger")


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def sbsign(source: Path, keydir: Path, out: Path) -> Path:
    tool = require_tool("sbsign")
    subprocess.run(
        [tool, "--key", keydir / "db.key", "--cert", keydir / "db.pem", "--output", out, source],
        check=True,
        capture_output=True,
    )
    return out


# --- keys init ------------------------------------------------------------------------------


def test_init_writes_three_self_signed_test_key_pairs(tmp_path: Path, capsys) -> None:
    target = tmp_path / "kd"
    assert main(["keys", "init", str(target)]) == 0
    assert "not for production" in capsys.readouterr().out

    fingerprints = set()
    for role in keys.KEY_ROLES:
        cert = x509.load_pem_x509_certificate((target / f"{role}.pem").read_bytes())
        key = serialization.load_pem_private_key((target / f"{role}.key").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert "TEST" in cn and role in cn and "not for production" in cn
        assert cert.issuer == cert.subject
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        cert.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256()
        )
        assert (target / f"{role}.cer").read_bytes() == cert.public_bytes(
            serialization.Encoding.DER
        )
        assert (target / f"{role}.key").stat().st_mode & 0o077 == 0
        fingerprints.add(cert.fingerprint(hashes.SHA256()))
    assert len(fingerprints) == 3
    uuid.UUID((target / "owner.guid").read_text().strip())
    assert not [p for p in target.iterdir() if p.name.startswith(".")]


def test_init_refuses_to_overwrite_existing_keys(keydir: Path, capsys) -> None:
    before = snapshot(keydir)
    assert main(["keys", "init", str(keydir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to overwrite" in err[0]
    assert snapshot(keydir) == before


def test_init_refuses_a_directory_holding_any_one_key_file(tmp_path: Path) -> None:
    (tmp_path / "db.key").write_bytes(b"precious")
    with pytest.raises(WorkbenchError, match=r"db\.key exists"):
        keys.init_keys(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["db.key"]
    assert (tmp_path / "db.key").read_bytes() == b"precious"


def test_init_on_a_file_is_a_one_line_error_from_the_real_cli(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    result = subprocess.run(
        [REPO / ".venv" / "bin" / "workbench", "keys", "init", target],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"workbench: error: {target} exists and is not a directory"
    ]


# --- keys show ------------------------------------------------------------------------------


def openssl_fingerprint(pem: Path) -> str:
    tool = require_tool("openssl")
    out = subprocess.run(
        [tool, "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().split("=", 1)[1]


def test_show_prints_subjects_and_fingerprints_openssl_agrees_with(keydir: Path, capsys) -> None:
    assert main(["keys", "show", str(keydir)]) == 0
    out = capsys.readouterr().out
    for role in keys.KEY_ROLES:
        assert f"CN=Stub Workbench TEST {role} key - not for production" in out
        assert openssl_fingerprint(keydir / f"{role}.pem") in out
    assert (keydir / "owner.guid").read_text().strip() in out


def test_show_json(keydir: Path, capsys) -> None:
    assert main(["keys", "show", str(keydir), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [entry["role"] for entry in document["keys"]] == ["PK", "KEK", "db"]
    db = document["keys"][2]
    assert db["sha256"] == openssl_fingerprint(keydir / "db.pem")
    assert db["private_key"] is True


def test_show_of_a_damaged_keydir_is_one_line(tmp_path: Path, keydir: Path, capsys) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(keydir, broken)
    (broken / "KEK.pem").write_text("not a certificate")
    assert main(["keys", "show", str(broken)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"workbench: error: {broken / 'KEK.pem'} is not a PEM certificate"
    )
    assert main(["keys", "show", str(tmp_path / "missing")]) == 2


# --- enrolled variable stores ---------------------------------------------------------------


def read_store(path: Path):
    from virt.firmware.varstore import edk2

    return edk2.Edk2VarStore(str(path)).get_varlist()


def enrolled_certs(varlist, name: str) -> list[tuple[uuid.UUID, bytes]]:
    return [(entry["guid"], entry["data"]) for siglist in varlist[name].sigdb for entry in siglist]


def test_prepare_vars_enrolls_the_keys_and_turns_secure_boot_on(
    keydir: Path, tmp_path: Path
) -> None:
    template = require_file(OVMF_VARS)
    template_before = template.read_bytes()
    out = keys.prepare_vars(keydir, template, tmp_path / "vars.fd")

    assert out.stat().st_size == len(template_before)
    assert template.read_bytes() == template_before
    varlist = read_store(out)
    owner = uuid.UUID((keydir / "owner.guid").read_text().strip())
    for role in keys.KEY_ROLES:
        assert enrolled_certs(varlist, role) == [(owner, (keydir / f"{role}.cer").read_bytes())]
    assert varlist["SecureBootEnable"].data == b"\x01"
    assert varlist["CustomMode"].data == b"\x00"
    assert "dbx" in varlist  # OVMF wants one, even a placeholder
    # The pristine template has none of it.
    assert "PK" not in read_store(template)


def test_each_run_gets_its_own_store(keydir: Path, tmp_path: Path) -> None:
    template = require_file(OVMF_VARS)
    first = keys.prepare_vars(keydir, template, tmp_path / "a.fd")
    second = keys.prepare_vars(keydir, template, tmp_path / "b.fd")
    assert first.read_bytes() == second.read_bytes()
    first.write_bytes(b"\0" * 16)  # a run scribbling on its store touches no other
    assert read_store(keys.prepare_vars(keydir, template, tmp_path / "c.fd"))["PK"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fd", "b.fd", "c.fd"]


def test_prepare_vars_follows_a_key_change(keydir: Path, other_keydir: Path, tmp_path: Path):
    template = require_file(OVMF_VARS)
    ours = read_store(keys.prepare_vars(keydir, template, tmp_path / "ours.fd"))
    theirs = read_store(keys.prepare_vars(other_keydir, template, tmp_path / "theirs.fd"))
    assert enrolled_certs(ours, "db") != enrolled_certs(theirs, "db")


def test_prepare_vars_errors_are_clear_and_write_nothing(keydir: Path, tmp_path: Path) -> None:
    template = require_file(OVMF_VARS)
    not_a_store = tmp_path / "junk.fd"
    not_a_store.write_bytes(os.urandom(4096))
    out = tmp_path / "out.fd"
    with pytest.raises(WorkbenchError, match="not an edk2 variable store"):
        keys.prepare_vars(keydir, not_a_store, out)
    with pytest.raises(WorkbenchError, match="does not exist"):
        keys.prepare_vars(keydir, tmp_path / "missing.fd", out)
    with pytest.raises(WorkbenchError, match="run 'workbench keys init'"):
        keys.prepare_vars(tmp_path / "nokeys", template, out)
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(keydir / "owner.guid", partial)
    with pytest.raises(WorkbenchError, match=r"PK\.pem is missing"):
        keys.prepare_vars(partial, template, out)
    assert not out.exists()


# --- signing interop and readiness ----------------------------------------------------------


@pytest.fixture(scope="session")
def signed_app(keydir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = require_file(SYSTEMD_BOOT)
    return sbsign(source, keydir, tmp_path_factory.mktemp("signed") / "app.efi")


def test_db_key_signs_images_sbverify_accepts(signed_app: Path, keydir: Path) -> None:
    tool = require_tool("sbverify")
    ok = subprocess.run([tool, "--cert", keydir / "db.pem", signed_app], capture_output=True)
    assert ok.returncode == 0
    wrong = subprocess.run([tool, "--cert", keydir / "PK.pem", signed_app], capture_output=True)
    assert wrong.returncode != 0


def test_readiness_of_an_unsigned_image() -> None:
    readiness = keys.secure_boot_readiness(require_file(SYSTEMD_BOOT), None)
    assert (readiness.signed, readiness.signer, readiness.matches_keys) == (False, None, None)
    assert readiness.problems == ["not signed: the firmware refuses it under Secure Boot"]
    assert not readiness.ready


def test_readiness_of_an_image_signed_with_the_keys(signed_app: Path, keydir: Path) -> None:
    readiness = keys.secure_boot_readiness(signed_app, keydir)
    assert readiness.signed and readiness.matches_keys is True
    assert readiness.signer is not None
    assert "CN=Stub Workbench TEST db key - not for production" in readiness.signer
    assert readiness.problems == [] and readiness.ready
    assert keys.secure_boot_readiness(signed_app, None).matches_keys is None


def test_readiness_with_other_keys(signed_app: Path, other_keydir: Path) -> None:
    readiness = keys.secure_boot_readiness(signed_app, other_keydir)
    assert readiness.signed and readiness.matches_keys is False
    assert readiness.problems == [
        f"the firmware refuses it: not signed by the db key in {other_keydir}"
    ]


def test_readiness_of_an_image_changed_after_signing(
    signed_app: Path, keydir: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edited.efi"
    data = bytearray(signed_app.read_bytes())
    data[0x1000] ^= 0x01  # inside the first section, covered by the Authenticode digest
    edited.write_bytes(data)
    readiness = keys.secure_boot_readiness(edited, keydir)
    assert readiness.signed and readiness.matches_keys is False
    assert readiness.problems == [
        "the firmware refuses it: the file was changed after signing (its digest no longer matches)"
    ]


def test_readiness_of_a_non_pe_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.efi"
    junk.write_bytes(b"hello")
    with pytest.raises(WorkbenchError, match="not a PE file"):
        keys.secure_boot_readiness(junk, None)
    with pytest.raises(WorkbenchError, match="no such file"):
        keys.secure_boot_readiness(tmp_path / "missing.efi", None)
