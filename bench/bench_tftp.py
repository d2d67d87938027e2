"""TFTP servers on loopback: ours against atftpd, dnsmasq and stock tftpy, same file, same client.

A 64 MiB random file fetched with Debian's atftp client asking `windowsize N` and `blksize B`
(N in 1/4/16/32/64 at B 1468; 1/4/8 at B 8192), then 32 clients at once. At blksize 8192 a
window of 16 overflows the atftp client's socket buffer on loopback whatever the server
(atftpd: the transfer fails after 59 s), so the 8192 row stops at 8. Stock tftpy does not grant
windows: it is measured at window 1 only. Everything runs in a private
network namespace of its own (`unshare --net`: a fresh loopback, port 69 free, nothing leaves).
Each server runs in its own process. Medians of --rounds, ratios against atftpd.

Run: .venv/bin/python -m bench.bench_tftp [--rounds 3] [--mib 64] [--clients 32]
Writes bench/results/tftp-loopback.json and .png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import REPO, RESULTS, format_table, median

ADDRESS = "127.0.0.1"
WINDOWS = {1468: (1, 4, 16, 32, 64), 8192: (1, 4, 8)}
SERVERS = ("workbench", "atftpd", "dnsmasq", "tftpy")
PORTS = {"workbench": 6901, "atftpd": 6902, "dnsmasq": 69, "tftpy": 6904}


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise SystemExit(f"bench_tftp: {name} not found (run 'make setup')")
    return path


def server_command(kind: str, root: Path) -> list[str]:
    port = str(PORTS[kind])
    if kind == "workbench":
        return [sys.executable, "-m", "workbench.cli", "serve", str(root), "--port", port]
    if kind == "atftpd":
        return [tool("atftpd"), "--daemon", "--no-fork", "--logfile", "/dev/null", "--user",
                "root", "--group", "root", "--no-multicast", "--bind-address", ADDRESS,
                "--port", port, str(root)]  # fmt: skip
    if kind == "dnsmasq":  # its TFTP server listens on 69 only
        return [tool("dnsmasq"), "--keep-in-foreground", "--port=0", "--no-resolv", "--no-hosts",
                "--interface=lo", "--bind-interfaces", "--conf-file=/dev/null", "--pid-file=",
                "--enable-tftp", f"--tftp-root={root}", "--user=root", "--group="]  # fmt: skip
    code = ("import logging, sys, tftpy; logging.getLogger('tftpy').setLevel(logging.CRITICAL); "
            f"tftpy.TftpServer(sys.argv[1]).listen('{ADDRESS}', {port})")  # fmt: skip
    return [sys.executable, "-c", code, str(root)]


@contextlib.contextmanager
def running(kind: str, root: Path) -> Iterator[None]:
    process = subprocess.Popen(server_command(kind, root), cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1.0)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def fetch(kind: str, name: str, out: Path, window: int, blksize: int) -> float:
    command = [tool("atftp"), "--option", f"blksize {blksize}"]
    if window > 1:
        command += ["--option", f"windowsize {window}"]
    command += ["-g", "-r", name, "-l", str(out), ADDRESS, str(PORTS[kind])]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, timeout=300)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{kind}: atftp failed: {result.stderr.decode()[-300:]}")
    return seconds


def inside_private_namespace() -> None:
    """Re-run this benchmark in a new network namespace with only loopback up."""
    if os.environ.get("BENCH_TFTP_NETNS") == "1":
        return
    command = [tool("unshare"), "--net", "--", "sh", "-c",
               'ip link set lo up && exec "$@"', "sh", sys.executable, "-m", "bench.bench_tftp",
               *sys.argv[1:]]  # fmt: skip
    if os.geteuid() != 0:
        command[1:1] = ["--user", "--map-root-user"]
    raise SystemExit(subprocess.run(command, cwd=REPO, env={**os.environ, "BENCH_TFTP_NETNS": "1"}
                                    ).returncode)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    inside_private_namespace()
    with tempfile.TemporaryDirectory(prefix="bench-tftp-") as scratch:
        directory = Path(scratch)
        root = directory / "root"
        root.mkdir()
        data = os.urandom(args.mib << 20)
        (root / "big").write_bytes(data)
        os.chmod(directory, 0o755)
        os.chmod(root, 0o755)
        os.chmod(root / "big", 0o644)  # dnsmasq as root serves world-readable files only
        out = directory / "out"
        single: dict[str, dict[str, float]] = {}
        for kind in SERVERS:
            with running(kind, root):
                for blksize, windows in WINDOWS.items():
                    for window in windows if kind != "tftpy" else (1,):
                        runs = [fetch(kind, "big", out, window, blksize)
                                for _ in range(args.rounds)]  # fmt: skip
                        if out.read_bytes() != data:
                            raise SystemExit(f"{kind}: the file came back different")
                        key = f"blksize {blksize} window {window}"
                        single.setdefault(kind, {})[key] = round(median(runs), 3)
                        print(f"{kind:9} {key}: {median(runs):.3f}s", file=sys.stderr, flush=True)
        concurrent = {kind: concurrent_run(kind, root, directory, data, args.clients)
                      for kind in ("workbench", "atftpd")}  # fmt: skip
    report(args, single, concurrent)


def concurrent_run(kind: str, root: Path, directory: Path, data: bytes, clients: int) -> float:
    """All clients at once (window 8, blksize 1468); the time until the last one is done."""
    with running(kind, root):
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(lambda i: fetch(kind, "big", directory / f"c{i}", 8, 1468),
                          range(clients)))  # fmt: skip
        seconds = time.monotonic() - started
    for i in range(clients):
        if (directory / f"c{i}").read_bytes() != data:
            raise SystemExit(f"{kind}: client {i} got different bytes")
        (directory / f"c{i}").unlink()
    print(f"{kind:9} {clients} clients: {seconds:.2f}s", file=sys.stderr, flush=True)
    return round(seconds, 2)


def report(args: argparse.Namespace, single: dict[str, dict[str, float]],
           concurrent: dict[str, float]) -> None:  # fmt: skip
    ratios = {key: round(single["workbench"][key] / single["atftpd"][key], 2)
              for key in single["workbench"]}  # fmt: skip
    cell = lambda kind, key: f"{single[kind][key]:.2f}" if key in single[kind] else "-"  # noqa: E731
    document = {
        "file_mib": args.mib,
        "rounds": args.rounds,
        "client": "atftp (Debian)",
        "seconds": single,
        "workbench_over_atftpd": ratios,
        "concurrent": {"clients": args.clients, "seconds": concurrent,
                       "workbench_over_atftpd": round(concurrent["workbench"] /
                                                      concurrent["atftpd"], 2)},
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tftp-loopback.json").write_text(json.dumps(document, indent=2) + "\n")
    from bench.plots import plot_loopback

    plot_loopback(document, RESULTS / "tftp-loopback.png")
    rows = [(key, *(cell(kind, key) for kind in SERVERS), f"{ratios[key]:.2f}")
            for key in single["workbench"]]  # fmt: skip
    print(f"{args.mib} MiB over loopback, atftp client, median of {args.rounds} (seconds)")
    print(format_table(("options", *SERVERS, "ours/atftpd"), rows))
    print(f"{args.clients} clients at once, window 8: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in concurrent.items())
          + f" (ours/atftpd {document['concurrent']['workbench_over_atftpd']:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
