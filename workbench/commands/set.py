"""`workbench set FILE ...`: change a stub's command line, paths, hashes, os-release or policy.

Everything is validated before anything is written; the write itself is atomic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench import contract
from workbench.edits import (
    EMBEDDED,
    ROLE_FIELDS,
    check_cmdline,
    check_hash,
    check_path,
    field_sections,
    hash_under_root,
    policy_change,
    write_stub,
)
from workbench.errors import BadInput, WorkbenchError
from workbench.pe.image import PeImage
from workbench.pe.signing import key_files
from workbench.stubinfo import detect_flavour, parse_policy_argument


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
        "tftp-blksize, tftp-window, fetch-timeout, net-stack, log",
    )  # fmt: skip
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument("--sign", type=Path, metavar="KEYDIR", help="re-sign with KEYDIR/db.key")
    signing.add_argument(
        "--drop-signature", action="store_true", help="remove the signature of a signed stub"
    )
    parser.set_defaults(func=run)


def _read_osrel(path: Path) -> bytes:
    try:
        return path.read_text(encoding="utf-8").encode()
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"--osrel {path}: {getattr(error, 'strerror', None) or error}") from None


def plan_changes(image: PeImage, args: argparse.Namespace) -> dict[str, bytes | None]:
    """The section changes the arguments ask for, all validated (workbench.edits)."""
    flavour = detect_flavour(image)
    sections = field_sections(flavour)
    changes: dict[str, bytes | None] = {}
    if args.cmdline is not None:
        changes[contract.CMDLINE] = check_cmdline(args.cmdline, "--cmdline")
    if args.osrel is not None:
        changes[contract.OSREL] = _read_osrel(args.osrel)
    if args.policy:
        updates = dict(parse_policy_argument(item) for item in args.policy)
        changes[contract.POLICY] = policy_change(image, updates)

    paths: dict[str, str | None] = {}
    for role, (path_field, hash_field) in ROLE_FIELDS.items():
        path_text = getattr(args, f"{role}_path")
        hash_text = getattr(args, f"{role}_hash")
        if (path_text is not None or args.rehash is not None) and flavour in EMBEDDED:
            raise BadInput(f"the {role} is embedded in this {flavour} stub: paths need a thin stub")
        if hash_text is not None and args.rehash is not None:
            raise BadInput(f"give either --{role}-hash or --rehash, not both")
        if path_text == "" and role == "initrd":
            changes[sections[path_field]] = None  # no initrd at all
            changes[sections[hash_field]] = None
            paths[role] = None
            continue
        if path_text is not None:
            changes[sections[path_field]] = check_path(path_text, f"--{role}-path").encode()
            paths[role] = path_text
        elif image.section(sections[path_field]) is not None:
            paths[role] = image.section_data(sections[path_field]).decode("utf-8", "replace")
        if hash_text is not None:
            changes[sections[hash_field]] = check_hash(hash_text, f"--{role}-hash")
    if args.rehash is not None:
        for role, path in paths.items():
            if path is not None:
                try:
                    digest = hash_under_root(args.rehash, role, path)
                except WorkbenchError as error:
                    raise BadInput(f"--rehash: {error}") from None
                changes[sections[ROLE_FIELDS[role][1]]] = digest
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
        raise BadInput("nothing to change: give --cmdline, --kernel-path, --policy, ...")
    if signed and not (args.sign or args.drop_signature):
        raise BadInput(f"{source} is signed: pass --sign KEYDIR to re-sign or --drop-signature")
    write_stub(source, changes, target, signing="resign" if args.sign else "drop", keys=args.sign,
               root=args.rehash)  # fmt: skip
    changed = ", ".join(name for name in changes) or "signature"
    print(f"wrote {target} ({changed})")
    return 0
