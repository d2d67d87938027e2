"""Boot times under QEMU TCG + OVMF: our thin stub against a systemd-stub UKI with the same
kernel, initrd and command line, locally (FAT ESP image) and over the private netboot lab.

1. local: thin stub vs UKI, the sample initrd, to the sample marker.
2. net: thin stub fetching kernel + a 32 MiB initrd over TFTP vs the UKI with the same content
   served as the PXE boot file itself, vs the same thin tree booted locally.
Each run is a whole `BootRun` (image build, firmware, download, kernel, marker), several rounds;
we print medians and ratios.
Run: .venv/bin/python -m bench.bench_boot [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.common import REPO, format_table, median
from workbench import contract
from workbench.builder import build_tree, default_stub
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, StubStep, Transfer
from workbench.pe.edit import rewrite_sections

CMDLINE = "console=ttyS0 panic=-1"
SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
KERNEL = REPO / "samples" / "build" / "vmlinuz"
INITRD = REPO / "samples" / "build" / "initrd.img"


@dataclass
class Case:
    name: str
    root: Path
    mode: Literal["local", "net"]
    seconds: list[float] = field(default_factory=list)
    tftp_seconds: list[float] = field(default_factory=list)
    kernel_start: list[float] = field(default_factory=list)


def make_big_initrd(directory: Path, pad_mib: int, busybox: Path = Path("/bin/busybox"),
                    tag: str = "") -> Path:  # fmt: skip
    output = directory / f"initrd{'-' + tag if tag else ''}-{pad_mib}m.img"
    subprocess.run(
        [sys.executable, str(REPO / "samples" / "make_initrd.py"), "--init",
         str(REPO / "samples" / "init.sh"), "--busybox", str(busybox), "--pad-mib", str(pad_mib),
         "-o", str(output)],
        check=True,
    )  # fmt: skip
    return output


def make_thin_tree(root: Path, initrd: Path) -> Path:
    build_tree(stub=default_stub(), kernel=KERNEL, initrd=initrd, cmdline=CMDLINE, out_dir=root,
               fat=False)  # fmt: skip
    return root


def make_uki_tree(root: Path, initrd: Path) -> Path:
    """systemd-stub with .osrel/.cmdline/.initrd/.linux, laid out by our section writer."""
    boot_file = root / contract.BOOT_PATH
    boot_file.parent.mkdir(parents=True, exist_ok=True)
    rewrite_sections(
        SYSTEMD_STUB,
        {
            contract.OSREL: b"NAME=bench\nID=bench\n",
            contract.CMDLINE: CMDLINE.encode(),
            contract.INITRD: initrd.read_bytes(),
            contract.KERNEL: KERNEL.read_bytes(),
        },
        out=boot_file,
    )
    return root


def measure(case: Case, timeout: float) -> None:
    events: list[Event] = []
    outcome = boot(
        BootRequest(root=case.root, mode=case.mode, expect=contract.SAMPLE_MARKER,
                    timeout=timeout),
        events.append,
    )  # fmt: skip
    if not outcome.ok:
        raise SystemExit(f"{case.name}: {outcome.kind}: {outcome.reason}")
    case.seconds.append(outcome.seconds)
    case.tftp_seconds.append(
        sum(e.seconds for e in events if isinstance(e, Transfer) and e.state == "done")
    )
    starts = [e.t for e in events if isinstance(e, StubStep) and e.step == "starting"]
    if starts:
        case.kernel_start.append(starts[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pad-mib", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as scratch:
        directory = Path(scratch)
        big_initrd = make_big_initrd(directory, args.pad_mib)
        thin_big = make_thin_tree(directory / "thin-big", big_initrd)
        cases = [
            Case("local thin stub", make_thin_tree(directory / "thin", INITRD), "local"),
            Case("local systemd-stub UKI", make_uki_tree(directory / "uki", INITRD), "local"),
            Case(f"net thin stub, {args.pad_mib} MiB initrd", thin_big, "net"),
            Case(
                f"net UKI as boot file, {args.pad_mib} MiB initrd",
                make_uki_tree(directory / "uki-big", big_initrd),
                "net",
            ),
            Case(f"local thin stub, {args.pad_mib} MiB initrd", thin_big, "local"),
        ]
        for round_number in range(args.rounds):
            for case in cases:
                measure(case, args.timeout)
                print(f"round {round_number + 1}: {case.name}: {case.seconds[-1]:.2f}s",
                      file=sys.stderr, flush=True)  # fmt: skip
    results = {
        case.name: {
            "median_s": round(median(case.seconds), 2),
            "runs_s": case.seconds,
            "tftp_s": round(median(case.tftp_seconds), 2),
            "kernel_start_s": round(median(case.kernel_start), 2) if case.kernel_start else None,
        }
        for case in cases
    }
    local_thin, local_uki, net_thin, net_uki, local_big = (median(c.seconds) for c in cases)
    ratios = {
        "local thin / local UKI": round(local_thin / local_uki, 2),
        "net thin / net UKI": round(net_thin / net_uki, 2),
        "net thin / local thin (same tree)": round(net_thin / local_big, 2),
    }
    if args.json:
        print(json.dumps({"rounds": args.rounds, "results": results, "ratios": ratios}, indent=2))
        return
    rows = [
        (name, f"{r['median_s']:.2f}", f"{r['tftp_s']:.2f}",
         "-" if r["kernel_start_s"] is None else f"{r['kernel_start_s']:.2f}")
        for name, r in results.items()
    ]  # fmt: skip
    print(f"median of {args.rounds} rounds, whole run to the sample marker (QEMU TCG, OVMF)")
    print(format_table(("case", "to marker s", "tftp s", "stub starts kernel s"), rows))
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
