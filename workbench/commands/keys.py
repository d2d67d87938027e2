"""`workbench keys init|show KEYDIR`: Secure Boot test keys."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench import keys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create and show Secure Boot test keys (PK, KEK, db)",
        description="Secure Boot test keys: PK, KEK and db key pairs for test machines only. "
        "Images are signed with the db pair; `workbench boot --secure-boot --keys KEYDIR` "
        "enrolls all three in a fresh OVMF variable store.",
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init",
        help="create PK, KEK and db test keys in KEYDIR",
        description="Create self-signed RSA 2048 / SHA-256 PK, KEK and db key pairs (PEM, plus "
        "DER .cer copies) and an owner GUID in KEYDIR. Existing keys are never overwritten.",
    )
    init.add_argument("keydir", metavar="KEYDIR", type=Path)
    init.set_defaults(func=run_init)

    show = actions.add_parser(
        "show",
        help="print the subjects and SHA-256 fingerprints of KEYDIR's certificates",
    )
    show.add_argument("keydir", metavar="KEYDIR", type=Path)
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=run_show)


def run_init(args: argparse.Namespace) -> int:
    written = keys.init_keys(args.keydir)
    print(f"created {len(written)} files in {args.keydir} (test keys: not for production)")
    for info in keys.describe_keys(args.keydir):
        print(f"  {info.role:<4} {info.fingerprint}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    infos = keys.describe_keys(args.keydir)
    owner = keys.owner_guid(args.keydir)
    if args.json:
        document = {
            "owner_guid": owner,
            "keys": [
                {
                    "role": info.role,
                    "subject": info.subject,
                    "sha256": info.fingerprint,
                    "not_after": info.not_after.isoformat(),
                    "private_key": info.has_private_key,
                }
                for info in infos
            ],
        }
        print(json.dumps(document, indent=2))
        return 0
    print(f"owner GUID: {owner}")
    for info in infos:
        private = "" if info.has_private_key else "  (no private key)"
        print(f"{info.role}:{private}")
        print(f"  subject:   {info.subject}")
        print(f"  sha256:    {info.fingerprint}")
        print(f"  not after: {info.not_after:%Y-%m-%d}")
    return 0
