"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [list(map(str, headers)), *[list(map(str, row)) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


RESULTS = REPO / "bench" / "results"


def add_round_options(parser: argparse.ArgumentParser) -> None:
    """--rounds, --pad-mib and --only, as the boot benchmarks share them."""
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pad-mib", type=int, default=32)
    parser.add_argument("--only", metavar="TEXT", help="run the cases whose name contains TEXT "
                        "(printed only; the JSON and plot need every case)")  # fmt: skip
