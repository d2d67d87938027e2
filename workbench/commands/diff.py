"""`workbench diff A B [--root ROOT] [--json]`: two stubs side by side. Exit 0 when they are the
same, 1 when they differ, 2 on bad input, like diff(1)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.compare import Comparison, compare

VALUE_WIDTH = 72


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two stubs: sections and what they mean (exit 1 when they differ)",
        description="Compare two stubs: flavour, sections added, removed or changed (size, "
        "SHA-256), and the decoded differences (command line, paths, hashes, policy, "
        "os-release, SBAT, signature). With --root, also the predicted boot of each from that "
        "tree. Exit status: 0 same, 1 different, 2 bad input.",
    )
    parser.add_argument("a", type=Path, metavar="A")
    parser.add_argument("b", type=Path, metavar="B")
    parser.add_argument(
        "--root", type=Path, metavar="ROOT", help="predict the local, TFTP and HTTP boots from ROOT"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    comparison = compare(args.a, args.b, args.root)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(human_lines(comparison)))
    return 0 if comparison.same else 1


def _show(value: Any) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def _arches(stub: str, kernel: str | None) -> str:
    return f"{stub} stub, {kernel} kernel" if kernel else f"{stub} stub"


def human_lines(comparison: Comparison) -> list[str]:
    arches_a = _arches(comparison.arch_a, comparison.kernel_arch_a)
    arches_b = _arches(comparison.arch_b, comparison.kernel_arch_b)
    lines = [f"--- {comparison.a}  ({arches_a})", f"+++ {comparison.b}  ({arches_b})"]
    if comparison.identical_files:
        return [*lines, "identical"]
    if comparison.flavour_a != comparison.flavour_b:
        lines.append(f"flavour: {comparison.flavour_a} -> {comparison.flavour_b}")
    for change in comparison.sections:
        if change.change == "added":
            lines.append(f"+ section {change.name}  {change.size_b} bytes  {change.sha256_b}")
        elif change.change == "removed":
            lines.append(f"- section {change.name}  {change.size_a} bytes  {change.sha256_a}")
        else:
            lines.append(f"~ section {change.name}  {change.size_a} -> {change.size_b} bytes")
    for item in comparison.fields:
        lines.append(f"~ {item.field}: {_show(item.a)} -> {_show(item.b)}")
    return lines
