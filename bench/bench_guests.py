"""Several guests netbooting at once from one lab (`boot --guests N`): N = 1, 2, 4 over PXE +
TFTP and over UEFI HTTP Boot + HTTP, the same thin tree (sample kernel + a --pad-mib MiB
incompressible initrd; 0: the sample initrd).

Two figures per case:
- wall: the run's start to the moment the last guest printed the sample marker (QEMU TCG on
  a shared host: N guests share its cores, so this grows with N whatever the server does);
- the stub's transfer times per guest, from its `stub: transfer kernel|initrd ... ms=` lines
  (kernel + initrd, milliseconds of the guest's own clock).

Run: .venv/bin/python -m bench.bench_guests [--rounds 3] [--pad-mib 32]
Writes bench/results/guests.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_boot import INITRD, make_big_initrd
from bench.bench_netboot import thin_tree
from bench.common import RESULTS, add_round_options, format_table, median
from workbench import contract
from workbench.lab.boot import BootRequest, BootRun
from workbench.lab.events import Event, SerialLine, StubStep
from workbench.lab.request import BootMode

COUNTS = (1, 2, 4)
MODES: tuple[tuple[str, BootMode], ...] = (("TFTP", "net"), ("HTTP", "http"))
TIMEOUT = 600.0


def measure(tree: Path, mode: BootMode, guests: int) -> dict[str, Any]:
    """One run: when each guest reached the marker, and its stub's transfer milliseconds."""
    events: list[Event] = []
    request = BootRequest(root=tree, mode=mode, expect=contract.SAMPLE_MARKER, guests=guests,
                          timeout=TIMEOUT)  # fmt: skip
    run = BootRun(request, events.append)
    summary = run.run()
    per_guest = []
    for index in range(guests):
        marker = [e.t for e in events if isinstance(e, SerialLine) and e.guest == index
                  and e.text.startswith(contract.SAMPLE_MARKER)]  # fmt: skip
        transfers = {e.subject: int(e.fields["ms"]) for e in events
                     if isinstance(e, StubStep) and e.guest == index and e.step == "transfer"
                     and "ms" in e.fields}  # fmt: skip
        per_guest.append({
            "guest": index,
            "marker_s": marker[0] if marker else None,
            "kernel_ms": transfers.get("kernel"),
            "initrd_ms": transfers.get("initrd"),
        })  # fmt: skip
    markers = [g["marker_s"] for g in per_guest]
    return {
        "ok": summary.ok,
        "wall_s": max(markers) if summary.ok else None,  # type: ignore[type-var]
        "outcomes": [o.kind for o in run.outcomes],
        "guests": per_guest,
    }


def transfer_ms(guest: dict[str, Any]) -> int | None:
    if guest["kernel_ms"] is None or guest["initrd_ms"] is None:
        return None
    return int(guest["kernel_ms"] + guest["initrd_ms"])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    transfers = [t for r in runs for g in r["guests"] if (t := transfer_ms(g)) is not None]
    return {
        "ok_runs": sum(r["ok"] for r in runs),
        "wall_median_s": round(median(walls), 2) if walls else None,
        "transfer_median_ms": median(transfers) if transfers else None,
        "transfer_max_ms": max(transfers) if transfers else None,
        "runs": runs,
    }


def plot(document: dict[str, Any], out: Path) -> None:
    """Wall time to the last marker by N, and every guest's stub transfer time by N."""
    from bench.plots import _pyplot

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for offset, (label, _) in enumerate(MODES):
        cases = {int(n): c for n, c in document["cases"][label].items()}
        counts = sorted(cases)
        left.plot(counts, [cases[n]["wall_median_s"] or 0 for n in counts], marker="o",
                  label=label)  # fmt: skip
        for n in counts:
            points = [transfer_ms(g) for r in cases[n]["runs"] for g in r["guests"]]
            values = [p for p in points if p is not None]
            shift = -0.12 if offset == 0 else 0.12
            right.scatter([n + shift] * len(values), values, label=label if n == counts[0]
                          else None, color=f"C{offset}")  # fmt: skip
    left.set_xticks(list(COUNTS))
    left.set_xlabel("guests booting at once")
    left.set_ylabel("seconds to the last guest's marker (lower is better)")
    left.set_title("wall time")
    left.grid(alpha=0.3)
    left.legend()
    right.set_xticks(list(COUNTS))
    right.set_xlabel("guests booting at once")
    right.set_ylabel("ms, stub transfer of kernel + initrd (each guest)")
    right.set_title("the stub's own transfer times")
    right.grid(alpha=0.3)
    right.legend()
    figure.suptitle(f"Guests netbooting at once under QEMU TCG ({document['cpus']} CPUs): sample "
                    f"kernel + {document['initrd_mib']} MiB initrd")  # fmt: skip
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_round_options(parser)
    args = parser.parse_args()
    cases: dict[str, dict[str, Any]] = {label: {} for label, _ in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-guests-") as scratch:
        directory = Path(scratch)
        initrd = make_big_initrd(directory, args.pad_mib) if args.pad_mib else INITRD
        tree = thin_tree(directory / "thin", initrd)
        for label, mode in MODES:
            for count in COUNTS:
                name = f"{label} x{count}"
                if args.only and args.only not in name:
                    continue
                runs = []
                for _ in range(args.rounds):
                    result = measure(tree, mode, count)
                    runs.append(result)
                    ms = [transfer_ms(g) for g in result["guests"]]
                    print(f"{name}: wall {result['wall_s']}s, stub transfer ms {ms}, "
                          f"{result['outcomes']}", file=sys.stderr, flush=True)  # fmt: skip
                cases[label][str(count)] = summarise(runs)
    document = {
        "what": "wall_median_s: the run's start to the last guest's sample marker; "
        "transfer_*_ms: each guest's `stub: transfer` ms of kernel + initrd; QEMU TCG + OVMF",
        "cpus": os.cpu_count(),
        "initrd_mib": args.pad_mib,
        "rounds": args.rounds,
        "cases": cases,
    }
    if args.only:
        print(json.dumps(document, indent=2))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "guests.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(document, RESULTS / "guests.png")
    rows: list[tuple[object, ...]] = []
    for label, by_count in cases.items():
        for guests, case in by_count.items():
            rows.append((label, guests, f"{case['ok_runs']}/{args.rounds}",
                         case["wall_median_s"], case["transfer_median_ms"],
                         case["transfer_max_ms"]))  # fmt: skip
    print(f"median of {args.rounds} (QEMU TCG, OVMF), sample kernel + {args.pad_mib} MiB initrd")
    print(format_table(("transport", "guests", "ok", "wall s", "stub ms median", "stub ms max"),
                       rows))  # fmt: skip


if __name__ == "__main__":
    main()
