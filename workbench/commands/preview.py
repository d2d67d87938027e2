"""`workbench preview`: what the stub will do from a local ESP and on each network boot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.lookup import tree_of
from workbench.preview import (
    DEFAULT_SERVER,
    DEFAULT_SERVER6,
    MODE_TITLES,
    MODES,
    ModePreview,
    Preview,
    preview,
)
from workbench.sbat import level_text, parse_level, verdict_line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="predict a local, a TFTP and an HTTP boot of a stub (IPv4 and IPv6), file by file",
        description="Follow the stub's own rules (boot source, path mapping, URL resolution, "
        "lookup, SHA-256) for a local ESP, a PXE/TFTP boot and a UEFI HTTP Boot, over IPv4 and "
        "IPv6, and predict each outcome with the exact path or URL the stub asks for.",
    )
    parser.add_argument("stub", type=Path, help="the stub (.efi)")
    parser.add_argument(
        "--root", type=Path,
        help="ESP / TFTP root (default: the tree the stub sits in at "
        "ROOT/EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI)",
    )  # fmt: skip
    parser.add_argument("--server", default=DEFAULT_SERVER, help="IPv4 boot server (10.0.2.2)")
    parser.add_argument("--server6", default=DEFAULT_SERVER6, help="IPv6 boot server (fd00::2)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--sbat-level",
        metavar="LEVEL",
        help="also say whether shim would start the stub under this SBAT level: rows "
        "NAME,GENERATION separated by spaces, or @FILE",
    )
    parser.set_defaults(func=run)


def default_root(stub: Path) -> Path:
    """ROOT when the stub sits at ROOT/EFI/BOOT/BOOT<ARCH>.EFI, else the stub's directory."""
    return tree_of(stub) or stub.resolve().parent


def run(args: argparse.Namespace) -> int:
    root = args.root or default_root(args.stub)
    level = parse_level(level_text(args.sbat_level)) if args.sbat_level else None
    result = preview(args.stub, root, server=args.server, server6=args.server6, sbat_level=level)
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
        arch = f", {file.arch}" if file.arch else ""
        lines.append(f"  {state}, {size}, sha256 {file.hash_status}{arch}")
    verdict = "boots" if mode.boots else f"fails: {mode.error_line}"
    lines.append(f"=> {verdict}")
    return lines


def _side_by_side(left: list[str], right: list[str]) -> list[str]:
    width = max(len(line) for line in left) + 3
    rows = []
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        rows.append(f"{a:<{width}}{b}".rstrip())
    return rows


def render(result: Preview) -> str:
    """Local ESP beside PXE/TFTP, then HTTP Boot beside the IPv6 boots' verdicts."""
    columns = {mode: [MODE_TITLES[mode].upper(), *_mode_lines(getattr(result, mode))]
               for mode in MODES}  # fmt: skip
    kernel = f", {result.kernel_arch} kernel" if result.kernel_arch else ""
    rows = [f"stub: {result.stub}  ({result.flavour}, {result.arch} stub{kernel})",
            f"root: {result.root}"]  # fmt: skip
    if result.arch_problem:
        rows.append(f"warning: {result.arch_problem}")
    if result.sbat_level is not None:
        rows.append(f"shim, SBAT level: {verdict_line(result.sbat_level)}")
    rows.append("")
    rows += _side_by_side(columns["local"], columns["net"])
    rows.append("")
    rows += _side_by_side(columns["http"], columns["net6"])
    rows.append("")
    rows += columns["http6"]
    return "\n".join(rows)
