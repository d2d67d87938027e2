"""`workbench extract FILE SECTION -o OUT`: a section's bytes, as the file that went in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.extract import extract_section, iter_payload
from workbench.pe.image import PeImage


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="write one section's bytes to a file (.linux/.initrd: the file that went in)",
        description="Write a section's bytes to OUT (atomically) or to stdout with -o -. For an "
        "embedded kernel the padding the PE layout added is left out.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("section", metavar="SECTION", help="e.g. .linux, .initrd, .cmdline")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="a file, or - for stdout"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output == "-":
        with PeImage.open(args.file) as image:
            for chunk in iter_payload(image, args.section):
                sys.stdout.buffer.write(chunk)
        return 0
    written = extract_section(args.file, args.section, Path(args.output))
    print(f"wrote {args.output} ({written} bytes)")
    return 0
