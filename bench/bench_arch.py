"""Boot times on arm64 beside x86_64: one tree with both stubs, the same run, QEMU TCG.

For each architecture the same cases: the thin stub from a local ESP, over PXE + TFTP and over
UEFI HTTP Boot, with the sample initrd padded to --pad-mib MiB (incompressible), so the stub's
own transfer dominates. The tree holds BOOTX64.EFI and BOOTAA64.EFI, each naming its own
kernel and initrd; the lab's DHCP answers each machine by its client architecture.

Both machines are emulated on this x86_64 host (TCG, no KVM), so x86_64 and arm64 seconds are
each the emulator's; the ratio that speaks of the stub is net / local within one architecture.
Run: .venv/bin/python -m bench.bench_arch [--rounds 3] [--pad-mib 32] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_boot import make_big_initrd
from bench.common import REPO, RESULTS, format_table, median
from workbench import contract
from workbench.arch import AARCH64, ARCHES, X86_64, Arch
from workbench.builder import build_tree
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, StubStep, Transfer

SAMPLES = REPO / "samples" / "build"
KERNELS = {X86_64: SAMPLES / "vmlinuz", AARCH64: SAMPLES / "aa64" / "vmlinuz"}
BUSYBOXES = {X86_64: Path("/bin/busybox"), AARCH64: SAMPLES / "aa64" / "busybox"}
MODES = ("local", "net", "http")


@dataclass
class Case:
    arch: Arch
    mode: str
    seconds: list[float] = field(default_factory=list)  # the whole run, to the marker
    stub_seconds: list[float] = field(default_factory=list)  # stub's first line to "starting"
    transfer_seconds: list[float] = field(default_factory=list)
    hash_seconds: list[float] = field(default_factory=list)  # SHA-256 inside the stub's transfers

    @property
    def name(self) -> str:
        return f"{self.arch.label} {self.mode}"


def make_tree(root: Path, scratch: Path, pad_mib: int) -> Path:
    """BOOTX64.EFI and BOOTAA64.EFI in one tree, each with its own kernel and padded initrd."""
    for arch in ARCHES:
        initrd = make_big_initrd(scratch, pad_mib, busybox=BUSYBOXES[arch], tag=arch.name)
        build_tree(
            stub=None,
            kernel=KERNELS[arch],
            initrd=initrd,
            out_dir=root,
            cmdline=f"console={arch.console} panic=-1",
            kernel_name=f"vmlinuz-{arch.name}",
            initrd_name=f"initrd-{arch.name}.img",
        )
    return root


def measure(case: Case, root: Path, timeout: float) -> None:
    events: list[Event] = []
    request = BootRequest(root=root, mode=case.mode, expect=contract.SAMPLE_MARKER,
                          timeout=timeout, arch=case.arch.name)  # fmt: skip
    outcome = boot(request, events.append)
    if not outcome.ok:
        raise SystemExit(f"{case.name}: {outcome.kind}: {outcome.reason}")
    case.seconds.append(outcome.seconds)
    steps = [e for e in events if isinstance(e, StubStep)]
    starts = [e.t for e in steps if e.step == "starting"]
    if steps and starts:
        case.stub_seconds.append(starts[0] - steps[0].t)
    case.transfer_seconds.append(
        sum(e.seconds for e in events if isinstance(e, Transfer) and e.state == "done")
    )
    hashed = [
        int(e.fields["hash_ms"]) for e in steps if e.step == "transfer" and "hash_ms" in e.fields
    ]
    if hashed:
        case.hash_seconds.append(sum(hashed) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pad-mib", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = [Case(arch, mode) for arch in ARCHES for mode in MODES]
    with tempfile.TemporaryDirectory(prefix="bench-arch-") as scratch:
        root = make_tree(Path(scratch) / "both", Path(scratch), args.pad_mib)
        for round_number in range(args.rounds):
            for case in cases:
                measure(case, root, args.timeout)
                print(f"round {round_number + 1}: {case.name}: {case.seconds[-1]:.2f}s "
                      f"(stub {case.stub_seconds[-1] if case.stub_seconds else float('nan'):.2f}s)",
                      file=sys.stderr, flush=True)  # fmt: skip
    results = {
        case.name: {
            "arch": case.arch.name,
            "mode": case.mode,
            "median_s": round(median(case.seconds), 2),
            "stub_s": round(median(case.stub_seconds), 2),
            "transfer_s": round(median(case.transfer_seconds), 2),
            "hash_s": round(median(case.hash_seconds), 2) if case.hash_seconds else None,
            "runs_s": case.seconds,
        }
        for case in cases
    }
    ratios = {}
    for arch in ARCHES:
        local = results[f"{arch.label} local"]
        for mode in ("net", "http"):
            other = results[f"{arch.label} {mode}"]
            ratios[f"{arch.label} {mode} / local (stub time)"] = round(
                other["stub_s"] / local["stub_s"], 2
            )
    for mode in MODES:
        arm, x86 = results[f"{AARCH64.label} {mode}"], results[f"{X86_64.label} {mode}"]
        ratios[f"arm64 / x86_64 {mode} (stub time)"] = round(arm["stub_s"] / x86["stub_s"], 2)
    document = {"rounds": args.rounds, "pad_mib": args.pad_mib, "results": results,
                "ratios": ratios}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "arch.json").write_text(json.dumps(document, indent=2) + "\n")
    from bench.plots import plot_arch

    plot_arch(document, RESULTS / "arch.png")
    if args.json:
        print(json.dumps(document, indent=2))
        return
    rows = [(name, f"{r['median_s']:.2f}", f"{r['stub_s']:.2f}", f"{r['transfer_s']:.2f}",
             "-" if r["hash_s"] is None else f"{r['hash_s']:.2f}")
            for name, r in results.items()]  # fmt: skip
    print(f"median of {args.rounds} rounds; {args.pad_mib} MiB initrd; QEMU TCG, OVMF / AAVMF")
    print(format_table(("case", "to marker s", "stub s", "transfer s", "sha256 s"), rows))
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
