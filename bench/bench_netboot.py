"""Netboot speed in real firmware: the stub fetching the sample kernel and a 32 MiB
incompressible initrd, from `stub: version` (the stub starts) to `stub: starting kernel`.

Same thin tree, same run:
- local ESP (FAT image on virtio-blk): the goal to approach;
- our TFTP server, atftpd, dnsmasq's TFTP server in the private lab (the stub's default
  policy: blksize 16384, window 8; dnsmasq does not grant windows);
- our server with the stub asking window 1/4/16/32/64 at blksize 1468, 8192 and the default
  16384, through `.policy`.
Medians of --rounds; ratios against the local ESP and against atftpd.

Run: .venv/bin/python -m bench.bench_netboot [--rounds 3] [--pad-mib 32] [--quick]
Writes bench/results/netboot.json and .png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.bench_boot import INITRD, KERNEL, make_big_initrd
from bench.common import RESULTS, format_table, median
from workbench import contract
from workbench.builder import build_tree, default_stub
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, StubStep

CMDLINE = "console=ttyS0 panic=-1"
WINDOWS = (1, 4, 16, 32, 64)
BLOCKS = (1468, 8192, 16384)


def stub_seconds(root: Path, mode: str, tftp_server: str = "workbench") -> tuple[float, dict]:
    """Seconds from the stub's first line to `starting kernel`, and the kernel's transfer line
    (with `run_s`: seconds from QEMU's start to `starting kernel`, firmware included)."""
    events: list[Event] = []
    outcome = boot(BootRequest(root=root, mode=mode, expect=contract.SAMPLE_MARKER,  # type: ignore[arg-type]
                               timeout=240, tftp_server=tftp_server), events.append)  # type: ignore[arg-type]  # fmt: skip
    if not outcome.ok:
        raise SystemExit(f"{root.name} {mode} {tftp_server}: {outcome.kind}: {outcome.reason}")
    steps = [e for e in events if isinstance(e, StubStep)]
    start = next(s.t for s in steps if s.step == "version")
    end = next(s.t for s in steps if s.step == "starting")
    transfer = next((s.fields for s in steps if s.step == "transfer" and s.subject == "kernel"), {})
    return end - start, {**transfer, "run_s": round(end, 2)}


def thin_tree(root: Path, initrd: Path, policy: dict[str, str] | None = None) -> Path:
    build_tree(stub=default_stub(), kernel=KERNEL, initrd=initrd, cmdline=CMDLINE, out_dir=root,
               policy=policy)  # fmt: skip
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pad-mib", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="the servers only, no window matrix")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-netboot-") as scratch:
        directory = Path(scratch)
        initrd = make_big_initrd(directory, args.pad_mib) if args.pad_mib else INITRD
        tree = thin_tree(directory / "default", initrd)
        servers = {
            "local ESP": (tree, "local", "workbench"),
            "net, our server": (tree, "net", "workbench"),
            "net, atftpd": (tree, "net", "atftpd"),
            "net, dnsmasq": (tree, "net", "dnsmasq"),
        }
        cases: dict[str, dict] = {}
        for name, (root, mode, server) in servers.items():
            runs, whole = [], []
            for _ in range(args.rounds):
                seconds, transfer = stub_seconds(root, mode, server)
                runs.append(seconds)
                whole.append(transfer.pop("run_s"))
                print(f"{name}: {seconds:.2f}s {transfer}", file=sys.stderr, flush=True)
            cases[name] = {
                "median_s": round(median(runs), 2),
                "runs_s": [round(r, 2) for r in runs],
                "run_median_s": round(median(whole), 2),
                "kernel_transfer": transfer,
            }
        matrix: dict[str, dict] = {}
        if not args.quick:
            for block in BLOCKS:
                for window in WINDOWS:
                    policy = {"tftp-blksize": str(block), "tftp-window": str(window)}
                    root = thin_tree(directory / f"b{block}-w{window}", initrd, policy)
                    runs = []
                    for _ in range(args.rounds):
                        seconds, transfer = stub_seconds(root, "net")
                        runs.append(seconds)
                        transfer.pop("run_s")
                    key = f"blksize {block} window {window}"
                    matrix[key] = {"median_s": round(median(runs), 2), "kernel_transfer": transfer}
                    print(f"matrix {key}: {median(runs):.2f}s", file=sys.stderr, flush=True)
    report(args, cases, matrix)


def report(args: argparse.Namespace, cases: dict[str, dict], matrix: dict[str, dict]) -> None:
    local = cases["local ESP"]["median_s"]
    atftpd = cases["net, atftpd"]["median_s"]
    ours = cases["net, our server"]["median_s"]
    document = {
        "what": "seconds from `stub: version` to `stub: starting kernel` (median_s), and from "
        "QEMU's start (run_median_s), QEMU TCG + OVMF",
        "initrd_mib": args.pad_mib,
        "rounds": args.rounds,
        "cases": cases,
        "matrix": matrix,
        "local_s": local,
        "ratios": {
            "net (our server) / local ESP": round(ours / local, 2),
            "whole run, net (our server) / local ESP": round(
                cases["net, our server"]["run_median_s"] / cases["local ESP"]["run_median_s"], 2
            ),
            "net (our server) / net (atftpd)": round(ours / atftpd, 2),
            "net (dnsmasq) / net (our server)": round(cases["net, dnsmasq"]["median_s"] / ours, 2),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    # --quick (the servers only) does not replace the full run's matrix.
    name = "netboot.json" if matrix else "netboot-servers.json"
    (RESULTS / name).write_text(json.dumps(document, indent=2) + "\n")
    if matrix:
        from bench.plots import plot_netboot

        plot_netboot(document, RESULTS / "netboot.png")
    print(f"stub start to kernel start, median of {args.rounds} (QEMU TCG, OVMF), "
          f"kernel + {args.pad_mib} MiB initrd")  # fmt: skip
    local_run = cases["local ESP"]["run_median_s"]
    print(format_table(("case", "stub s", "x local", "whole run s", "x local"),
                       [(name, f"{c['median_s']:.2f}", f"{c['median_s'] / local:.2f}",
                         f"{c['run_median_s']:.2f}", f"{c['run_median_s'] / local_run:.2f}")
                        for name, c in cases.items()]))  # fmt: skip
    if matrix:
        print(format_table(("our server, stub asks", "seconds", "x local"),
                           [(key, f"{m['median_s']:.2f}", f"{m['median_s'] / local:.2f}")
                            for key, m in matrix.items()]))  # fmt: skip
    for name, value in document["ratios"].items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
