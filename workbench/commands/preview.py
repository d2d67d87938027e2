"""`workbench preview`: what the stub will do from a local ESP and over the network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.lookup import tree_of
from workbench.preview import DEFAULT_SERVER, ModePreview, Preview, preview


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="predict a local and a network boot of a stub, file by file",
        description="Follow the stub's own rules (boot source, path mapping, lookup, SHA-256) "
        "for a local ESP and for a netboot side by side, and predict the outcome.",
    )
    parser.add_argument("stub", type=Path, help="the stub (.efi)")
    parser.add_argument(
        "--root", type=Path,
        help="ESP / TFTP root (default: the tree the stub sits in at ROOT/EFI/BOOT/BOOTX64.EFI)",
    )  # fmt: skip
    parser.add_argument("--server", default=DEFAULT_SERVER, help="boot server the DHCP names")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def default_root(stub: Path) -> Path:
    """ROOT when the stub sits at ROOT/EFI/BOOT/BOOTX64.EFI, else the stub's directory."""
    return tree_of(stub) or stub.resolve().parent


def run(args: argparse.Namespace) -> int:
    result = preview(args.stub, args.root or default_root(args.stub), server=args.server)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result))
    return 0


def _mode_lines(mode: ModePreview) -> list[str]:
    lines = [f"source: {mode.source}"]
    for file in mode.files:
        size = f"{file.size} bytes" if file.size is not None else "-"
        state = "present" if file.exists else "absent"
        lines.append(f"{file.role}: {file.looked_for}")
        lines.append(f"  {state}, {size}, sha256 {file.hash_status}")
    verdict = "boots" if mode.boots else f"fails: {mode.error_line}"
    lines.append(f"=> {verdict}")
    return lines


def render(result: Preview) -> str:
    left = ["LOCAL ESP", *_mode_lines(result.local)]
    right = ["NETBOOT", *_mode_lines(result.net)]
    width = max(len(line) for line in left) + 3
    rows = [f"stub: {result.stub}  ({result.flavour})", f"root: {result.root}", ""]
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        rows.append(f"{a:<{width}}{b}".rstrip())
    return "\n".join(rows)
