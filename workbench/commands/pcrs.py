"""`workbench pcrs STUB [--root ROOT] [--bank B] [--json]`: the PCR values a stub leaves when the
kernel starts, computed from the file (workbench.pcrs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.pcrs import BANKS, predict
from workbench.pe.image import PeImage
from workbench.stubinfo import describe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pcrs",
        help="predict the PCR 11 / 12 values a stub leaves when the kernel starts",
        description="Predict what the stub itself extends into the TPM (PCR 11: its sections; "
        "PCR 12: the command line when it does not come from the stub) for our stub, "
        "systemd-stub UKIs and lanzaboote stubs. With --root, also check that the files the "
        "stub will load are there and match (otherwise the kernel never starts).",
    )
    parser.add_argument("stub", type=Path, metavar="STUB")
    parser.add_argument("--root", type=Path, metavar="ROOT", help="the tree the stub boots from")
    parser.add_argument("--bank", action="append", choices=list(BANKS), metavar="BANK",
                        help="sha256 (default), sha384 or sha1; repeat for several")  # fmt: skip
    parser.add_argument("--json", action="store_true", help='{"sha256": {"11": "<hex>", ...}}')
    parser.add_argument("--events", action="store_true",
                        help="also list each measured event, with the event data the stub logs "
                        "(the section name in UTF-16)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    banks = tuple(dict.fromkeys(args.bank or ["sha256"]))
    with PeImage.open(args.stub) as image:
        prediction = predict(image, banks, args.root)
        info = describe(image, hashes=False, root=args.root)
    problems = _root_problems(args.stub, args.root) if args.root is not None else []
    if args.json:
        document = prediction.to_json()
        if args.events:
            document = {"banks": document, "events": [vars(e) for e in prediction.events]}  # type: ignore[dict-item]
        print(json.dumps(document, indent=2))
    else:
        print(f"scheme: {prediction.scheme}")
        kernel = info.kernel.arch if info.kernel is not None else None
        print(f"arch: {info.arch} stub" + (f", {kernel} kernel" if kernel else ""))
        for bank, values in prediction.banks.items():
            for pcr, value in values.items():
                print(f"{bank} pcr {pcr}: {value}")
        if args.events:
            for event in prediction.events:
                digest = next(iter(event.digests.values()))
                text = bytes.fromhex(event.event_data).decode("utf-16-le").rstrip("\0")
                print(f"  pcr {event.pcr} {event.section} {event.part}: {digest}"
                      f"  event data {text!r} (UTF-16: {event.event_data})")  # fmt: skip
    for note in prediction.notes:
        print(f"workbench: note: {note}", file=sys.stderr)
    for problem in problems:
        print(f"workbench: warning: {problem}", file=sys.stderr)
    return 0


def _root_problems(stub: Path, root: Path) -> list[str]:
    from workbench.preview import preview

    result = preview(stub, root)
    return [f"{mode.mode}: the kernel never starts: {mode.error_line}"
            for mode in (result.local, result.net) if not mode.boots]  # fmt: skip
