"""`workbench sign FILE --keys KEYDIR [-o OUT]` and `workbench verify FILE --keys KEYDIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.pe.image import PeImage
from workbench.pe.signing import CERT_NAME, sign, verify


def register(subparsers: argparse._SubParsersAction) -> None:
    signer = subparsers.add_parser(
        "sign",
        help="sign a stub with KEYDIR/db.key (sbsign)",
        description="Sign a PE file for Secure Boot with the db key pair of KEYDIR.",
    )
    signer.add_argument("file", type=Path, help="the PE file to sign")
    signer.add_argument("--keys", required=True, type=Path, metavar="KEYDIR",
                        help="directory holding db.key and db.pem")  # fmt: skip
    signer.add_argument("-o", "--output", type=Path, help="write here instead of in place")
    signer.set_defaults(func=run_sign)

    verifier = subparsers.add_parser(
        "verify",
        help="check a stub's signature against KEYDIR/db.pem (exit 0 valid, 1 not)",
        description="Verify a PE file's Authenticode signature with sbverify.",
    )
    verifier.add_argument("file", type=Path, help="the PE file to check")
    verifier.add_argument("--keys", required=True, type=Path, metavar="KEYDIR",
                          help="directory holding db.pem")  # fmt: skip
    verifier.set_defaults(func=run_verify)


def run_sign(args: argparse.Namespace) -> int:
    with PeImage.open(args.file):
        pass  # a clear error for anything that is not a PE file
    target = sign(args.file, args.keys, args.output)
    print(f"signed {target}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    with PeImage.open(args.file) as image:
        signed = image.is_signed
    cert = args.keys / CERT_NAME
    if signed and verify(args.file, args.keys):
        print(f"{args.file}: signature valid for {cert}")
        return 0
    reason = "signature not valid for" if signed else "not signed; not valid for"
    print(f"{args.file}: {reason} {cert}")
    return 1
