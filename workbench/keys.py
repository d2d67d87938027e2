"""Secure Boot test keys and per-run OVMF variable stores with those keys enrolled.

A KEYDIR holds three self-signed RSA 2048 / SHA-256 key pairs (PK, KEK, db) as PEM
(`PK.key`/`PK.pem`, ...), DER copies of the certificates (`PK.cer`, ...) and `owner.guid`, the
signature owner GUID recorded with each enrolled certificate. Images are signed with the db
pair (see workbench.pe.signing). The keys are for test machines only and say so in their names.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import shutil
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workbench import contract
from workbench.atomic_write import write_bytes_atomic
from workbench.errors import MissingTool, WorkbenchError

KEY_ROLES = ("PK", "KEK", "db")
OWNER_GUID_FILE = "owner.guid"
VALIDITY_DAYS = 3650
RSA_BITS = 2048


def common_name(role: str) -> str:
    # X.509 caps a common name at 64 characters.
    return f"Stub Workbench TEST {role} key - not for production"


def key_path(keydir: Path, role: str) -> Path:
    return Path(keydir) / f"{role}.key"


def cert_path(keydir: Path, role: str) -> Path:
    return Path(keydir) / f"{role}.pem"


def der_path(keydir: Path, role: str) -> Path:
    return Path(keydir) / f"{role}.cer"


def _keydir_files(keydir: Path) -> list[Path]:
    files = [Path(keydir) / OWNER_GUID_FILE]
    for role in KEY_ROLES:
        files += [key_path(keydir, role), cert_path(keydir, role), der_path(keydir, role)]
    return files


def _write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """A private key gets exactly `mode`; certificates and stores the mode cp would give."""
    write_bytes_atomic(path, data, mode=mode)


def _self_signed(role: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stub Workbench"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name(role)),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        # A day of slack: the firmware clock of a fresh VM need not agree with ours.
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
    )
    if role == "db":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    return key, builder.sign(key, hashes.SHA256())


def init_keys(keydir: Path) -> list[Path]:
    """Create PK, KEK and db test key pairs in KEYDIR; never overwrite existing keys."""
    keydir = Path(keydir)
    if keydir.exists() and not keydir.is_dir():
        raise WorkbenchError(f"{keydir} exists and is not a directory")
    existing = [path.name for path in _keydir_files(keydir) if path.exists()]
    if existing:
        raise WorkbenchError(
            f"{keydir} already holds keys ({existing[0]} exists); refusing to overwrite them"
        )
    try:
        keydir.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for role in KEY_ROLES:
            key, cert = _self_signed(role)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_atomic(key_path(keydir, role), key_pem, mode=0o600)
            _write_atomic(cert_path(keydir, role), cert.public_bytes(serialization.Encoding.PEM))
            _write_atomic(der_path(keydir, role), cert.public_bytes(serialization.Encoding.DER))
            written += [key_path(keydir, role), cert_path(keydir, role), der_path(keydir, role)]
        _write_atomic(keydir / OWNER_GUID_FILE, f"{uuid.uuid4()}\n".encode())
        written.append(keydir / OWNER_GUID_FILE)
    except OSError as error:
        raise WorkbenchError(f"cannot write keys to {keydir}: {error.strerror or error}") from None
    return written


def owner_guid(keydir: Path) -> str:
    path = Path(keydir) / OWNER_GUID_FILE
    try:
        text = path.read_text().strip()
        return str(uuid.UUID(text))
    except FileNotFoundError:
        raise WorkbenchError(f"{path} is missing (run 'workbench keys init')") from None
    except (OSError, ValueError):
        raise WorkbenchError(f"{path} does not hold a GUID") from None


def load_cert(keydir: Path, role: str) -> x509.Certificate:
    path = cert_path(keydir, role)
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise WorkbenchError(f"{path} is missing (run 'workbench keys init')") from None
    except OSError as error:
        raise WorkbenchError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise WorkbenchError(f"{path} is not a PEM certificate") from None


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


@dataclass(frozen=True)
class KeyInfo:
    role: str
    subject: str
    fingerprint: str  # SHA-256 of the DER certificate, colon-separated hex
    not_after: datetime.datetime
    has_private_key: bool


def describe_keys(keydir: Path) -> list[KeyInfo]:
    """The certificates of KEYDIR, in PK, KEK, db order."""
    keydir = Path(keydir)
    if not keydir.is_dir():
        raise WorkbenchError(f"{keydir} is not a directory")
    infos = []
    for role in KEY_ROLES:
        cert = load_cert(keydir, role)
        infos.append(
            KeyInfo(
                role=role,
                subject=cert.subject.rfc4514_string(),
                fingerprint=fingerprint(cert),
                not_after=cert.not_valid_after_utc,
                has_private_key=key_path(keydir, role).is_file(),
            )
        )
    return infos


# --- OVMF variable stores -------------------------------------------------------------------


def _enrolled_store(keydir: Path, template: Path) -> bytes:
    """KEYDIR's PK/KEK/db enrolled into TEMPLATE, Secure Boot on: the bytes of the store."""
    owner = owner_guid(keydir)
    certs = {role: cert_path(keydir, role) for role in KEY_ROLES}
    for role in KEY_ROLES:
        load_cert(keydir, role)  # a clear error before virt-firmware sees a bad file
    # Cached by content: each run still gets its own copy of the bytes.
    digest = hashlib.sha256(owner.encode())
    for path in (*certs.values(), template):
        digest.update(path.read_bytes())
    return _enroll_cached(digest.hexdigest(), str(template), owner, tuple(map(str, certs.values())))


@functools.lru_cache(maxsize=8)
def _enroll_cached(
    content_digest: str, template: str, owner: str, certs: tuple[str, str, str]
) -> bytes:
    del content_digest  # only part of the cache key
    from virt.firmware.varstore import edk2

    if not edk2.Edk2VarStore.probe(template):
        raise WorkbenchError(f"{template} is not an edk2 variable store")
    pk, kek, db = certs
    try:
        store = edk2.Edk2VarStore(template)
        varlist = store.get_varlist()
        if "PK" in varlist:
            # A store with someone's keys (AAVMF's only formatted stores come enrolled; its
            # blank one is unformatted flash): its format only, no variable of it, ours alone.
            varlist.clear()
        varlist.add_cert("PK", owner, pk, True)
        varlist.add_cert("KEK", owner, kek, True)
        varlist.add_cert("db", owner, db, True)
        # Sets SecureBootEnable, leaves CustomMode off and adds the placeholder dbx OVMF expects.
        varlist.enable_secureboot()
        return bytes(store.bytes_varstore(varlist))
    except (ValueError, KeyError, IndexError, struct.error) as error:
        raise WorkbenchError(f"cannot enroll keys into {template}: {error}") from None


def prepare_vars(keydir: Path, template: Path, out: Path) -> Path:
    """Write OUT: a copy of the OVMF VARS TEMPLATE with KEYDIR's keys enrolled, Secure Boot on."""
    keydir, template, out = Path(keydir), Path(template), Path(out)
    if not keydir.is_dir():
        raise WorkbenchError(f"key directory {keydir} does not exist (run 'workbench keys init')")
    if not template.is_file():
        raise WorkbenchError(f"OVMF variable store template {template} does not exist")
    try:
        data = _enrolled_store(keydir, template)
        _write_atomic(out, data)
    except OSError as error:
        raise WorkbenchError(f"cannot prepare {out}: {error.strerror or error}") from None
    return out


# shim's own GUID: the owner MokManager records with a MOK; used when KEYDIR has no owner.guid.
SHIM_LOCK_GUID = "605dab50-e046-4300-abb6-3dd810dd8b23"


def prepare_mok_vars(
    keydir: Path, template: Path, out: Path, sbat_level: str | None = None, verbose: bool = True
) -> Path:
    """Write OUT: TEMPLATE (a store that already trusts shim, e.g. Microsoft's keys) with
    KEYDIR's db certificate in MokList and, given SBAT_LEVEL, that text as SbatLevel.

    Both are the boot-services-only variables shim reads at start (non-volatile, no runtime
    access: shim deletes them otherwise); shim mirrors MokList to MokListRT for the kernel.
    VERBOSE sets SHIM_VERBOSE: shim then prints its refusals as console lines, where it would
    otherwise draw them in a dialog that waits for a key (and prints its debug lines too)."""
    keydir, template, out = Path(keydir), Path(template), Path(out)
    if not keydir.is_dir():
        raise WorkbenchError(f"key directory {keydir} does not exist (run 'workbench keys init')")
    if not template.is_file():
        raise WorkbenchError(f"OVMF variable store template {template} does not exist")
    load_cert(keydir, "db")
    owner = owner_guid(keydir) if (keydir / OWNER_GUID_FILE).exists() else SHIM_LOCK_GUID
    from virt.firmware.varstore import edk2

    if not edk2.Edk2VarStore.probe(str(template)):
        raise WorkbenchError(f"{template} is not an edk2 variable store")
    try:
        store = edk2.Edk2VarStore(str(template))
        varlist = store.get_varlist()
        varlist.add_cert("MokList", owner, str(cert_path(keydir, "db")))
        if sbat_level is not None:
            var = varlist.get("SbatLevel") or varlist.create("SbatLevel")
            var.data = sbat_level.encode("latin-1")
            var.update_time()
        if verbose:
            varlist.set_uint32("SHIM_VERBOSE", 1)
        data = bytes(store.bytes_varstore(varlist))
    except (ValueError, KeyError, IndexError, struct.error) as error:
        raise WorkbenchError(f"cannot enroll the MOK into {template}: {error}") from None
    try:
        _write_atomic(out, data)
    except OSError as error:
        raise WorkbenchError(f"cannot prepare {out}: {error.strerror or error}") from None
    return out


@contextlib.contextmanager
def enrolled_vars(keydir: Path, arch: str = "x86_64") -> Iterator[Path]:
    """A temporary variable store for the Secure Boot firmware of ARCH's machine, KEYDIR
    enrolled, for one run."""
    with tempfile.TemporaryDirectory(prefix="workbench-sb-vars-") as workdir:
        yield prepare_secure_boot_vars(keydir, Path(workdir) / "vars.fd", arch)


def prepare_secure_boot_vars(keydir: Path, out: Path, arch: str = "x86_64") -> Path:
    """prepare_vars() on the template of the Secure Boot firmware the lab boots (OVMF for
    x86_64, AAVMF for aarch64)."""
    from workbench.lab.firmware import find_firmware

    return prepare_vars(keydir, find_firmware(secure_boot=True, arch=arch).vars_template, out)


def secure_boot_options(
    secure_boot: bool, keydir: Path | None, arch: str = "x86_64"
) -> contextlib.AbstractContextManager[Path | None]:
    """For `workbench boot --secure-boot --keys KEYDIR`: a context giving the vars template
    (None without Secure Boot); the two options only make sense together."""
    if secure_boot and keydir is None:
        raise WorkbenchError(
            "--secure-boot needs --keys KEYDIR (create one with 'workbench keys init KEYDIR')"
        )
    if keydir is not None and not secure_boot:
        raise WorkbenchError("--keys only applies with --secure-boot")
    if keydir is None:
        return contextlib.nullcontext(None)
    return enrolled_vars(keydir, arch)


# --- Readiness of a stub for a Secure Boot machine ----------------------------------------


@dataclass
class Readiness:
    signed: bool
    signer: str | None
    matches_keys: bool | None  # None: no KEYDIR given, or it could not be checked
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.signed and self.matches_keys is not False and not self.problems


def _sbverify(stub_path: Path, cert: Path) -> tuple[bool, str]:
    """(verified, why not) from sbverify against one db certificate."""
    tool = shutil.which("sbverify")
    if tool is None:
        raise MissingTool("sbverify not found (install sbsigntool)")
    result = subprocess.run(
        [tool, "--cert", str(cert), str(stub_path)], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return True, ""
    output = result.stderr + result.stdout
    if "fails hash check" in output or "Hash doesn't match" in output:
        return False, "the file was changed after signing (its digest no longer matches)"
    return False, f"not signed by the db key in {cert.parent}"


def secure_boot_readiness(stub_path: Path, keydir: Path | None) -> Readiness:
    """Would the firmware of a machine with KEYDIR's db enrolled start this stub, and would the
    stub then load its kernel? Reads the file (mmap-backed: fine for big fat stubs); changes
    nothing."""
    from workbench.pe.image import PeImage

    stub_path = Path(stub_path)
    problems: list[str] = []
    signer: str | None = None
    with PeImage.open(stub_path) as image:
        signed = image.is_signed
        if not signed:
            problems.append("not signed: the firmware refuses it under Secure Boot")
        else:
            try:
                signature = image.signature
                signer = signature.subject if signature else None
            except WorkbenchError:
                problems.append("the signature cannot be parsed")
        problems += _stub_section_problems(image)

    matches: bool | None = None
    if keydir is not None and signed:
        db_cert = cert_path(Path(keydir), "db")
        load_cert(Path(keydir), "db")
        matches, why_not = _sbverify(stub_path, db_cert)
        if not matches:
            problems.insert(0, f"the firmware refuses it: {why_not}")
    return Readiness(signed=signed, signer=signer, matches_keys=matches, problems=problems)


def _stub_section_problems(image) -> list[str]:
    """Our thin stub refuses to load what it cannot verify; shim also wants SBAT data."""
    sections = {section.name: section for section in image.sections}
    if contract.WB_MAGIC not in sections or contract.KERNEL not in sections:
        return []
    if image.section_data(contract.KERNEL)[:2] == b"MZ":
        return []  # fat: the kernel is inside the signed image
    problems = []
    for name, role in ((contract.KERNEL_HASH, "kernel"), (contract.INITRD_HASH, "initrd")):
        if role == "initrd" and contract.INITRD not in sections:
            continue
        section = sections.get(name)
        if section is None or section.data_size != contract.SHA256_SIZE:
            problems.append(
                f"thin stub without a valid {name}: it refuses to load the {role} unverified"
            )
    if contract.SBAT not in sections:
        problems.append("no .sbat section: shim would refuse it")
    return problems
