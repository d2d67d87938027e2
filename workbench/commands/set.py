"""`workbench set FILE ...`: change a stub's command line, paths, hashes, os-release or policy.

Everything is validated before anything is written; the write itself is atomic.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench import contract
from workbench.errors import WorkbenchError
from workbench.lookup import locate
from workbench.paths import parse_stub_path
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.pe.signing import key_files, sign
from workbench.stubinfo import (
    Flavour,
    detect_flavour,
    format_policy,
    parse_policy,
    parse_policy_argument,
    validate_policy,
)

HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
EMBEDDED = (Flavour.WORKBENCH_FAT, Flavour.UKI)


@dataclass(frozen=True)
class RoleSections:
    path: str
    hash: str


def role_sections(flavour: Flavour) -> dict[str, RoleSections]:
    """Which sections hold each file's path and hash in this flavour."""
    if flavour == Flavour.LANZABOOTE_LEGACY:
        return {
            "kernel": RoleSections(contract.LEGACY_KERNEL_PATH, contract.LEGACY_KERNEL_HASH),
            "initrd": RoleSections(contract.LEGACY_INITRD_PATH, contract.INITRD_HASH),
        }
    return {
        "kernel": RoleSections(contract.KERNEL, contract.KERNEL_HASH),
        "initrd": RoleSections(contract.INITRD, contract.INITRD_HASH),
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "set",
        help="change a stub's command line, paths, hashes, os-release or policy",
        description="Change sections of a stub. All values are checked before anything is "
        "written; the file is replaced atomically. A signed stub needs --sign or "
        "--drop-signature.",
    )
    parser.add_argument("file", type=Path, help="the stub to edit")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of in place")
    parser.add_argument("--cmdline", help="kernel command line")
    parser.add_argument("--kernel-path", metavar="P", help=r"kernel path, e.g. \EFI\Linux\vmlinuz")
    parser.add_argument("--initrd-path", metavar="P", help="initrd path (empty: no initrd)")
    parser.add_argument("--kernel-hash", metavar="HEX", help="kernel SHA-256, 64 hex digits")
    parser.add_argument("--initrd-hash", metavar="HEX", help="initrd SHA-256, 64 hex digits")
    parser.add_argument(
        "--rehash", type=Path, metavar="ROOT",
        help="recompute both hashes from the files the paths name under ROOT",
    )  # fmt: skip
    parser.add_argument("--osrel", type=Path, metavar="FILE", help="os-release text to embed")
    parser.add_argument(
        "--policy", action="append", default=[], metavar="KEY=VALUE",
        help="set a policy key (KEY= removes it): on-error, error-delay, source, "
        "tftp-blksize, tftp-window",
    )  # fmt: skip
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument("--sign", type=Path, metavar="KEYDIR", help="re-sign with KEYDIR/db.key")
    signing.add_argument(
        "--drop-signature", action="store_true", help="remove the signature of a signed stub"
    )
    parser.set_defaults(func=run)


def check_hash(text: str, option: str) -> bytes:
    if not HEX_SHA256.fullmatch(text.strip()):
        raise WorkbenchError(f"{option}: expected 64 hex digits, got {len(text.strip())} chars")
    return bytes.fromhex(text.strip())


def check_path(text: str, option: str) -> str:
    if not text or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise WorkbenchError(f"{option}: a path must be non-empty without control characters")
    try:
        parse_stub_path(text)
    except WorkbenchError as error:
        raise WorkbenchError(f"{option} {text!r}: {error}") from None
    return text


def _rehash(root: Path, role: str, path: str) -> bytes:
    if not root.is_dir():
        raise WorkbenchError(f"--rehash: {root} is not a directory")
    found = locate(root, parse_stub_path(path))
    if found is None:
        raise WorkbenchError(f"--rehash: {role} {path} not found under {root}")
    try:
        with open(found, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError as error:
        raise WorkbenchError(f"--rehash: cannot read {found}: {error.strerror}") from None


def _read_osrel(path: Path) -> bytes:
    try:
        return path.read_text(encoding="utf-8").encode()
    except (OSError, UnicodeDecodeError) as error:
        raise WorkbenchError(
            f"--osrel {path}: {getattr(error, 'strerror', None) or error}"
        ) from None


def plan_changes(image: PeImage, args: argparse.Namespace) -> dict[str, bytes | None]:
    """The section changes the arguments ask for, all validated."""
    flavour = detect_flavour(image)
    roles = role_sections(flavour)
    changes: dict[str, bytes | None] = {}
    if args.cmdline is not None:
        if "\0" in args.cmdline:
            raise WorkbenchError("--cmdline: the command line must not contain NUL")
        changes[contract.CMDLINE] = args.cmdline.encode()
    if args.osrel is not None:
        changes[contract.OSREL] = _read_osrel(args.osrel)
    if args.policy:
        policy = parse_policy(image.section_data(contract.POLICY).decode("utf-8", "replace")) if (
            image.section(contract.POLICY) is not None
        ) else {}  # fmt: skip
        updates = dict(parse_policy_argument(item) for item in args.policy)
        validate_policy({key: value for key, value in updates.items() if value})
        for key, value in updates.items():
            if value:
                policy[key] = value
            else:
                policy.pop(key, None)
        changes[contract.POLICY] = format_policy(policy).encode() if policy else None

    paths: dict[str, str | None] = {}
    for role in ("kernel", "initrd"):
        path_text = getattr(args, f"{role}_path")
        hash_text = getattr(args, f"{role}_hash")
        sections = roles[role]
        if (path_text is not None or args.rehash is not None) and flavour in EMBEDDED:
            raise WorkbenchError(
                f"the {role} is embedded in this {flavour} stub: paths need a thin stub"
            )
        if hash_text is not None and args.rehash is not None:
            raise WorkbenchError(f"give either --{role}-hash or --rehash, not both")
        if path_text == "" and role == "initrd":
            changes[sections.path] = None  # no initrd at all
            changes[sections.hash] = None
            paths[role] = None
            continue
        if path_text is not None:
            changes[sections.path] = check_path(path_text, f"--{role}-path").encode()
            paths[role] = path_text
        elif image.section(sections.path) is not None:
            paths[role] = image.section_data(sections.path).decode("utf-8", "replace")
        if hash_text is not None:
            changes[sections.hash] = check_hash(hash_text, f"--{role}-hash")
    if args.rehash is not None:
        for role, path in paths.items():
            if path is not None:
                changes[roles[role].hash] = _rehash(args.rehash, role, path)
    return changes


def run(args: argparse.Namespace) -> int:
    source: Path = args.file
    target: Path = args.output or source
    if args.sign is not None:
        key_files(args.sign)
    with PeImage.open(source) as image:
        changes = plan_changes(image, args)
        signed = image.is_signed
    if not changes and not (args.drop_signature or args.sign):
        raise WorkbenchError("nothing to change: give --cmdline, --kernel-path, --policy, ...")
    if signed and not (args.sign or args.drop_signature):
        raise WorkbenchError(
            f"{source} is signed: pass --sign KEYDIR to re-sign or --drop-signature"
        )
    if args.sign is None:
        rewrite_sections(source, changes, target, signed="drop")
    else:
        # Edit into a temporary file and sign that into place: the target changes only once.
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(handle)
        unsigned = Path(name)
        try:
            rewrite_sections(source, changes, unsigned, signed="drop")
            sign(unsigned, args.sign, target)
        finally:
            unsigned.unlink(missing_ok=True)
    changed = ", ".join(name for name in changes) or "signature"
    print(f"wrote {target} ({changed})")
    return 0
