"""TFTP or HTTP, IPv4 or IPv6: the same thin tree (sample kernel + a 32 MiB incompressible
initrd) booted every way the lab offers, against the local ESP and against the firmware's own
HTTP Boot of an equivalent systemd-stub UKI.

Two figures per case, medians of --rounds:
- stub seconds: `stub: version` to `stub: starting kernel` (what the stub's transport costs);
- whole run: QEMU's start to the sample initramfs's marker (firmware, downloads, kernel).

Cases: local ESP; PXE + TFTP (our server, the stub's default blksize 16384 window 8); UEFI HTTP
Boot + the stub's HTTP; PXE over IPv6 + TFTP (PXE Base Code's MTFTP6); UEFI HTTP Boot over
IPv6 + the stub's HTTP over IPv6 (the firmware's PXE over IPv6 fails first, as the lab arranges
for OVMF 2022.11: its time is in the whole run, not in the stub's); PXE over IPv6 + the stub's
HTTP over IPv6 (http://[fd00::2] paths); PXE + the stub's HTTP over IPv4 (http:// paths); the
firmware's HTTP Boot of the UKI (kernel and initrd inside the boot file).

Run: .venv/bin/python -m bench.bench_transports [--rounds 3] [--pad-mib 32]
Writes bench/results/transports.json and .png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.bench_boot import INITRD, make_big_initrd, make_uki_tree
from bench.bench_netboot import thin_tree
from bench.common import RESULTS, add_round_options, format_table, median
from workbench import contract
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, StubStep
from workbench.paths import parse_stub_path
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage

GOAL = 1.15  # HTTP netboot within 1.15x of the local ESP


@dataclass
class Case:
    name: str
    root: Path
    mode: str
    ipv6: bool = False


def with_urls(source: Path, target: Path, host: str) -> Path:
    """A copy of the tree whose stub names the same files as http://HOST/... URLs."""
    shutil.copytree(source, target)
    stub = target / contract.BOOT_PATH
    with PeImage.open(stub) as image:
        paths = {name: parse_stub_path(image.section_data(name))
                 for name in (contract.KERNEL, contract.INITRD)}  # fmt: skip
    rewrite_sections(stub, {name: f"http://{host}/{path.tftp_name}".encode()
                            for name, path in paths.items()})  # fmt: skip
    return target


def measure(case: Case) -> tuple[float | None, float, dict[str, str]]:
    """(stub seconds or None for a stub that prints nothing, whole-run seconds, kernel line)."""
    events: list[Event] = []
    request = BootRequest(root=case.root, mode=case.mode, expect=contract.SAMPLE_MARKER,  # type: ignore[arg-type]
                          timeout=300, ipv6=case.ipv6)  # fmt: skip
    outcome = boot(request, events.append)
    if not outcome.ok:
        raise SystemExit(f"{case.name}: {outcome.kind}: {outcome.reason}")
    steps = [e for e in events if isinstance(e, StubStep)]
    starts = [s.t for s in steps if s.step == "version"]
    ends = [s.t for s in steps if s.step == "starting"]
    stub = ends[0] - starts[0] if starts and ends else None
    transfer = next((s.fields for s in steps if s.step == "transfer" and s.subject == "kernel"), {})
    return stub, outcome.seconds, transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_round_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-transports-") as scratch:
        directory = Path(scratch)
        initrd = make_big_initrd(directory, args.pad_mib) if args.pad_mib else INITRD
        tree = thin_tree(directory / "thin", initrd)
        cases = [
            Case("local ESP", tree, "local"),
            Case("PXE + TFTP, IPv4", tree, "net"),
            Case("HTTP Boot + HTTP, IPv4", tree, "http"),
            Case("PXE + TFTP, IPv6", tree, "net", ipv6=True),
            Case("HTTP Boot + HTTP, IPv6", tree, "http", ipv6=True),
            Case("PXE + HTTP, IPv6", with_urls(tree, directory / "v6", "[fd00::2]"), "net", True),
            Case("PXE + HTTP, IPv4", with_urls(tree, directory / "v4", "10.0.2.2"), "net"),
            Case("firmware HTTP Boot of a UKI", make_uki_tree(directory / "uki", initrd), "http"),
        ]
        results: dict[str, dict] = {}
        if args.only:
            cases = [case for case in cases if args.only in case.name]
        for case in cases:
            stubs, wholes, transfer = [], [], {}
            for _ in range(args.rounds):
                stub, whole, transfer = measure(case)
                if stub is not None:
                    stubs.append(stub)
                wholes.append(whole)
                print(f"{case.name}: stub {stub}s, whole {whole:.2f}s {transfer}", file=sys.stderr,
                      flush=True)  # fmt: skip
            results[case.name] = {
                "stub_median_s": round(median(stubs), 2) if stubs else None,
                "whole_median_s": round(median(wholes), 2),
                "stub_runs_s": [round(s, 2) for s in stubs],
                "whole_runs_s": [round(w, 2) for w in wholes],
                "kernel_transfer": transfer,
            }
    if args.only:
        print(json.dumps(results, indent=2))
        return
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, dict]) -> None:
    local = results["local ESP"]
    http = results["HTTP Boot + HTTP, IPv4"]
    uki = results["firmware HTTP Boot of a UKI"]
    ratios = {
        "HTTP / local ESP, stub time": round(http["stub_median_s"] / local["stub_median_s"], 2),
        "HTTP / local ESP, whole run": round(http["whole_median_s"] / local["whole_median_s"], 2),
        "HTTP / TFTP (IPv4), stub time": round(
            http["stub_median_s"] / results["PXE + TFTP, IPv4"]["stub_median_s"], 2
        ),
        "HTTP Boot + stub / firmware HTTP Boot of the UKI, whole run": round(
            http["whole_median_s"] / uki["whole_median_s"], 2
        ),
        "TFTP IPv6 / TFTP IPv4, stub time": round(
            results["PXE + TFTP, IPv6"]["stub_median_s"]
            / results["PXE + TFTP, IPv4"]["stub_median_s"], 2
        ),
        "HTTP Boot IPv6 / HTTP Boot IPv4, stub time": round(
            results["HTTP Boot + HTTP, IPv6"]["stub_median_s"] / http["stub_median_s"], 2
        ),
        "HTTP IPv6 / HTTP IPv4 (both after PXE), stub time": round(
            results["PXE + HTTP, IPv6"]["stub_median_s"]
            / results["PXE + HTTP, IPv4"]["stub_median_s"], 2
        ),
    }  # fmt: skip
    document = {
        "what": "stub_median_s: `stub: version` to `stub: starting kernel`; whole_median_s: "
        "QEMU's start to the sample marker; QEMU TCG + OVMF 2022.11",
        "initrd_mib": args.pad_mib,
        "rounds": args.rounds,
        "goal": f"HTTP within {GOAL}x of the local ESP (stub time)",
        "goal_met": ratios["HTTP / local ESP, stub time"] <= GOAL,
        "cases": results,
        "ratios": ratios,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transports.json").write_text(json.dumps(document, indent=2) + "\n")
    from bench.plots import plot_transports

    plot_transports(document, RESULTS / "transports.png")
    print(f"median of {args.rounds} (QEMU TCG, OVMF), sample kernel + {args.pad_mib} MiB initrd")
    rows = []
    for name, case in results.items():
        stub = case["stub_median_s"]
        rows.append((name, "-" if stub is None else f"{stub:.2f}",
                     "-" if stub is None else f"{stub / local['stub_median_s']:.2f}",
                     f"{case['whole_median_s']:.2f}",
                     f"{case['whole_median_s'] / local['whole_median_s']:.2f}"))  # fmt: skip
    print(format_table(("case", "stub s", "x local", "whole run s", "x local"), rows))
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"goal ({document['goal']}): {'met' if document['goal_met'] else 'missed'}")


if __name__ == "__main__":
    main()
