"""`workbench explain LOG`: a boot's console log, captured on any machine, as a timeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.explain import explain_log, render


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain a serial or screen log of a boot: source, files, rates, failure, hint",
        description="Read a serial or screen log (any machine, any line endings, ANSI noise) "
        "and explain the boot as a timeline: the stub's lines, the firmware's PXE, HTTP Boot "
        "and Secure Boot lines, shim's refusals and the kernel start. Exit 0 when the kernel "
        "started, 1 for a failure or a log that ends before it, 2 for input that is not a "
        "boot log.",
    )
    parser.add_argument("log", type=Path, help="the captured console log")
    parser.add_argument(
        "--root", type=Path,
        help="check each file the log names against this ESP / server root",
    )  # fmt: skip
    parser.add_argument(
        "--stub", type=Path,
        help="the stub whose hashes are expected (default: ROOT/EFI/BOOT/BOOTX64.EFI)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    explanation = explain_log(args.log, root=args.root, stub=args.stub)
    if args.json:
        print(json.dumps(explanation.to_dict(), indent=2))
    else:
        print(render(explanation))
    return explanation.exit_code
