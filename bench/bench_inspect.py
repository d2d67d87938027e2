"""`workbench inspect` on a 200 MB fat stub vs `objdump -h` vs a plain `pefile.PE(path)` load.

Each command runs in a fresh child a few rounds; we report the median wall time and the child's
peak resident memory (getrusage of a one-shot wrapper process), then ratios against objdump.
Run: .venv/bin/python -m bench.bench_inspect [--size-mb 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKBENCH = REPO / ".venv" / "bin" / "workbench"

# Runs one command in a fresh child and reports its wall time and peak RSS (KiB).
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - start
if done.returncode != 0:
    sys.exit(done.stderr.decode(errors="replace")[-500:] or f"exit {done.returncode}")
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def build_fat_stub(directory: Path, size_mb: int) -> Path:
    """A fat stub whose `.linux` is the sample kernel padded to `size_mb` MiB."""
    from workbench.builder import build_tree, default_stub

    kernel = directory / "big-kernel"
    sample = REPO / "samples" / "build" / "vmlinuz"
    with open(kernel, "wb") as output:
        output.write(sample.read_bytes())
        remaining = (size_mb << 20) - output.tell()
        block = os.urandom(1 << 20)
        while remaining > 0:
            output.write(block[: min(remaining, len(block))])
            remaining -= len(block)
    result = build_tree(stub=default_stub(), kernel=kernel, initrd=None, cmdline="quiet",
                        out_dir=directory / "tree", fat=True)  # fmt: skip
    kernel.unlink()
    return result.stub_path


def measure(argv: list[str], rounds: int) -> tuple[float, int]:
    times, peaks = [], []
    for _ in range(rounds):
        done = subprocess.run([sys.executable, "-c", MEASURE, *argv],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {done.stderr.strip()}")
        elapsed, peak = done.stdout.split()
        times.append(float(elapsed))
        peaks.append(int(peak))
    return statistics.median(times), max(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    objdump = shutil.which("objdump")
    if objdump is None:
        raise SystemExit("objdump not found (binutils)")
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as scratch:
        stub = build_fat_stub(Path(scratch), args.size_mb)
        size = stub.stat().st_size
        commands = {
            "workbench inspect": [str(WORKBENCH), "inspect", str(stub)],
            "workbench inspect --json": [str(WORKBENCH), "inspect", "--json", str(stub)],
            "objdump -h": [objdump, "-h", str(stub)],
            "pefile.PE(path)": [sys.executable, "-c",
                                "import pefile, sys; pefile.PE(sys.argv[1])", str(stub)],
        }  # fmt: skip
        results = {name: measure(argv, args.rounds) for name, argv in commands.items()}
    base_time, base_peak = results["objdump -h"]
    if args.json:
        figures = {name: {"median_s": t, "peak_rss_kib": p} for name, (t, p) in results.items()}
        print(json.dumps({"file_bytes": size, "rounds": args.rounds, "results": figures}))
        return 0
    print(f"fat stub: {size / (1 << 20):.1f} MiB, {args.rounds} rounds, median wall time")
    print(f"{'command':<26} {'time (s)':>9} {'peak RSS (MiB)':>15} {'x objdump time':>15}"
          f" {'x objdump RSS':>14}")  # fmt: skip
    for name, (elapsed, peak) in results.items():
        print(f"{name:<26} {elapsed:>9.3f} {peak / 1024:>15.1f} {elapsed / base_time:>15.1f}"
              f" {peak / base_peak:>14.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
