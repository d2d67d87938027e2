"""TFTP servers on loopback: ours against atftpd, dnsmasq and stock tftpy, same file, same client.

A 64 MiB random file fetched with Debian's atftp client asking `windowsize N` and `blksize B`
(N in 1/4/16/32/64 at B 1468; 1/4/8 at B 8192). Then a boot storm against atftpd: 1, 8 and 32
clients at once fetching a 16 MiB file (window 8, blksize 1468), the time until the last one is
done; and the same 8-client storm while IDLE_SESSIONS sessions a flood left behind wait for ACKs
that never come (each asked `timeout 5`: they stay for the whole storm). At blksize 8192 a
window of 16 overflows the atftp client's socket buffer on loopback whatever the server
(atftpd: the transfer fails after 59 s), so the 8192 row stops at 8. Stock tftpy does not grant
windows: it is measured at window 1 only. Everything runs in a private
network namespace of its own (`unshare --net`: a fresh loopback, port 69 free, nothing leaves).
Each server runs in its own process; the rounds go round the servers in turn (the machine may
be shared: a drifting load then weighs on every server alike). Medians of --rounds, ratios
against atftpd.

Run: .venv/bin/python -m bench.bench_tftp [--rounds 3] [--mib 64] [--clients 1,8,32]
Writes bench/results/tftp-loopback.json and .png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
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
STORM_MIB = 16
STORM_WINDOW = 8
IDLE_SESSIONS = 48
IDLE_CLIENTS = 8


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
    parser.add_argument("--clients", default="1,8,32", help="storm sizes, comma-separated")
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
        single: dict[str, dict[str, list[float]]] = {kind: {} for kind in SERVERS}
        # Every server runs at once and the rounds go round them in turn, so a machine whose
        # load drifts (it is shared) weighs on all of them alike.
        with contextlib.ExitStack() as servers:
            for kind in SERVERS:
                servers.enter_context(running(kind, root))
            for blksize, windows in WINDOWS.items():
                for window in windows:
                    key = f"blksize {blksize} window {window}"
                    for _ in range(args.rounds):
                        for kind in SERVERS:
                            if kind == "tftpy" and window > 1:
                                continue
                            seconds = fetch(kind, "big", out, window, blksize)
                            if out.read_bytes() != data:
                                raise SystemExit(f"{kind}: the file came back different")
                            single[kind].setdefault(key, []).append(seconds)
                    print(f"{key}: " + ", ".join(f"{kind} {median(runs[key]):.3f}s"
                                                  for kind, runs in single.items() if key in runs),
                          file=sys.stderr, flush=True)  # fmt: skip
        storm_data = os.urandom(STORM_MIB << 20)
        (root / "storm").write_bytes(storm_data)
        os.chmod(root / "storm", 0o644)
        storm: dict[str, dict[str, list[float]]] = {"workbench": {}, "atftpd": {}}
        cases = [(int(count), 0) for count in args.clients.split(",")]
        for clients, idle in [*cases, (IDLE_CLIENTS, IDLE_SESSIONS)]:
            key = f"{clients} clients" + (f", {idle} idle" if idle else "")
            for _ in range(args.rounds):
                for kind, runs in storm.items():
                    seconds = storm_run(kind, root, directory, storm_data, clients, idle)
                    runs.setdefault(key, []).append(seconds)
    report(args, medians(single, 3), medians(storm, 2))


def medians(runs: dict[str, dict[str, list[float]]], digits: int) -> dict[str, dict[str, float]]:
    return {kind: {key: round(median(values), digits) for key, values in rows.items()}
            for kind, rows in runs.items()}  # fmt: skip


def idle_flood(kind: str, sessions: int) -> list[socket.socket]:
    """Requests whose senders never acknowledge: sessions left behind by a flood. The sockets
    stay open (a closed port would end them early through ICMP)."""
    flood = []
    for _ in range(sessions):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((ADDRESS, 0))
        sock.sendto(b"\0\x01storm\0octet\0timeout\x005\0blksize\x001468\0", (ADDRESS, PORTS[kind]))
        flood.append(sock)
    time.sleep(0.5)  # every session has started and sent its first packet
    return flood


def storm_run(kind: str, root: Path, directory: Path, data: bytes, clients: int,
              idle: int = 0) -> float:  # fmt: skip
    """All clients at once (window 8, blksize 1468); the time until the last one is done."""
    with running(kind, root):
        flood = idle_flood(kind, idle)
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                list(pool.map(lambda i: fetch(kind, "storm", directory / f"c{i}", STORM_WINDOW,
                                              1468), range(clients)))  # fmt: skip
            seconds = time.monotonic() - started
        finally:
            for sock in flood:
                sock.close()
    for i in range(clients):
        if (directory / f"c{i}").read_bytes() != data:
            raise SystemExit(f"{kind}: client {i} got different bytes")
        (directory / f"c{i}").unlink()
    label = f"{clients} clients" + (f", {idle} idle" if idle else "")
    print(f"{kind:9} storm {label}: {seconds:.2f}s", file=sys.stderr, flush=True)
    return seconds


def report(args: argparse.Namespace, single: dict[str, dict[str, float]],
           storm: dict[str, dict[str, float]]) -> None:  # fmt: skip
    ratios = {key: round(single["workbench"][key] / single["atftpd"][key], 2)
              for key in single["workbench"]}  # fmt: skip
    storm_ratios = {key: round(storm["workbench"][key] / storm["atftpd"][key], 2)
                    for key in storm["workbench"]}  # fmt: skip
    cell = lambda kind, key: f"{single[kind][key]:.2f}" if key in single[kind] else "-"  # noqa: E731
    document = {
        "file_mib": args.mib,
        "rounds": args.rounds,
        "client": "atftp (Debian)",
        "seconds": single,
        "workbench_over_atftpd": ratios,
        "storm": {"file_mib": STORM_MIB, "window": STORM_WINDOW, "blksize": 1468,
                  "seconds": storm, "workbench_over_atftpd": storm_ratios},
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tftp-loopback.json").write_text(json.dumps(document, indent=2) + "\n")
    from bench.plots import plot_loopback

    plot_loopback(document, RESULTS / "tftp-loopback.png")
    rows = [(key, *(cell(kind, key) for kind in SERVERS), f"{ratios[key]:.2f}")
            for key in single["workbench"]]  # fmt: skip
    print(f"{args.mib} MiB over loopback, atftp client, median of {args.rounds} (seconds)")
    print(format_table(("options", *SERVERS, "ours/atftpd"), rows))
    print(
        f"\nstorm: {STORM_MIB} MiB each, window {STORM_WINDOW}, median of {args.rounds} (seconds)"
    )
    rows = [(key, f"{storm['workbench'][key]:.2f}", f"{storm['atftpd'][key]:.2f}",
             f"{storm_ratios[key]:.2f}") for key in storm["workbench"]]  # fmt: skip
    print(format_table(("clients", "workbench", "atftpd", "ours/atftpd"), rows))


if __name__ == "__main__":
    main()
