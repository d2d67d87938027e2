"""What one received packet costs at each network layer OVMF offers the stub, in the lab (QEMU
TCG, OVMF's virtio-net driver), so the stub's own network path is chosen by evidence.

- SNP, MNP, UDP4: stub/tests/efi/netprobe.efi is PXE-booted and asks a sender in the lab's
  namespace (bench/udp_blaster.py) for bursts of 64 datagrams of 1472 bytes, until 20000
  packets or 4 s per layer; it prints one line per layer (packets, ms, lost). SNP is polled
  at TPL_CALLBACK (MNP's poll timer cannot take frames); MNP and UDP4 children are polled at
  TPL_APPLICATION with 8 Receive tokens each, then once more at TPL_CALLBACK (`*_callback`:
  our notify functions wait there, so completion is read from each token's Status). SNP and
  MNP check the IPv4 header and UDP checksums themselves, as an own stack would; UDP4 does
  that inside the firmware. SHA-256 of 1472 bytes is timed first and after each layer: a
  layer that leaves the firmware busy shows there.
- MTFTP4 and TCP4/HTTP: the stub's firmware path (`.policy net-stack=firmware`) fetching the
  sample kernel and a 32 MiB initrd, from its `stub: transfer ... ms=... via=mtftp4|http`
  lines: per 1468-byte block (window 8), per 1448-byte TCP segment. Those figures include
  the stub's SHA-256 of every byte in flight; the probe's `sha256` row is that cost alone.

Run: .venv/bin/python -m bench.bench_layers [--rounds 3] [--pad-mib 32] [--probe-only]
Writes bench/results/layers.json and .png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bench_boot import INITRD, make_big_initrd
from bench.bench_netboot import thin_tree
from bench.common import REPO, RESULTS, median
from workbench import contract
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Event, LabNote, SerialLine, StubStep
from workbench.lab.request import BootMode

PROBE = REPO / "stub" / "build" / "test" / "netprobe.efi"
PAYLOAD = 1472
TFTP_BLOCK = 1468
TCP_SEGMENT = 1448  # 1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamps)
PROBE_LAYERS = ("snp", "mnp", "udp4", "udp4_callback", "mnp_callback")
LAB_STARTED = re.compile(r"network lab started \(pid (\d+)\)")
PROBE_LINE = re.compile(r"netprobe: layer=(\w+) (.*)")
FIELD = re.compile(r"(\w+)=(\S+)")


def build_probe() -> None:
    subprocess.run(
        ["flock", "/tmp/stub-build.lock", "make", "-s", "-C", str(REPO / "stub"), "test-apps"],
        check=True,
    )


class SenderInLab:
    """Starts the sender inside the lab's namespace once the lab's network is up; keeps the
    probe's lines and the sender's records (in a file: a pipe nobody reads while the boot runs
    would fill and stall the sender)."""

    def __init__(self, records: Path) -> None:
        self.records = records
        self.lab_pid: int | None = None
        self.sender: subprocess.Popen[bytes] | None = None
        self.lines: dict[str, dict[str, str]] = {}
        self.serial: list[str] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, LabNote):
            started = LAB_STARTED.search(event.text)
            if started:
                self.lab_pid = int(started.group(1))
            elif event.text.startswith("private network:") and self.lab_pid is not None:
                self.start_sender(self.lab_pid)
        elif isinstance(event, SerialLine):
            self.serial.append(event.text)
            line = PROBE_LINE.search(event.text)
            if line:
                self.lines[line.group(1)] = dict(FIELD.findall(line.group(2)))
                print(event.text.strip(), file=sys.stderr, flush=True)

    def start_sender(self, lab_pid: int) -> None:
        command = [
            "nsenter",
            f"--net=/proc/{lab_pid}/ns/net",
            "--",
            sys.executable,
            "-m",
            "bench.udp_blaster",
        ]
        with self.records.open("w") as out:
            self.sender = subprocess.Popen(
                command, cwd=REPO, stdout=out, env={**os.environ, "PYTHONPATH": str(REPO)}
            )

    def stop_sender(self) -> list[dict[str, Any]]:
        """End the sender (ours, by its pid) and return its records."""
        if self.sender is None:
            return []
        self.sender.terminate()
        self.sender.wait(timeout=10)
        lines = self.records.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def sender_figures(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per layer: the sender's own microseconds per datagram, and the ICMP port unreachables."""
    figures: dict[str, dict[str, float]] = {}
    for layer in PROBE_LAYERS:
        bursts = [r for r in records if r.get("layer") == layer and "send_us" in r]
        icmp = [
            r["icmp_port_unreachable"]
            for r in records
            if r.get("layer") == layer and "icmp_port_unreachable" in r
        ]
        sent = sum(r["count"] for r in bursts)
        figures[layer] = {
            "sender_us_per_packet": round(sum(r["send_us"] for r in bursts) / sent, 2)
            if sent
            else math.nan,
            "icmp_port_unreachable": max(icmp, default=0),
        }
    return figures


def run_probe(directory: Path) -> dict[str, Any]:
    """PXE-boot the probe as the lab's boot file; its lines and the sender's figures."""
    root = directory / "probe"
    (root / contract.BOOT_PATH).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROBE, root / contract.BOOT_PATH)
    watch = SenderInLab(directory / "sender.jsonl")
    try:
        outcome = boot(
            BootRequest(root=root, mode="net", expect="netprobe: done", timeout=240), watch
        )
    finally:
        records = watch.stop_sender()
    if not outcome.ok:
        tail = "\n".join(watch.serial[-15:])
        raise SystemExit(f"netprobe: {outcome.kind}: {outcome.reason}\n{tail}")
    wanted = (*PROBE_LAYERS, "sha256", *(f"sha256_after_{layer}" for layer in PROBE_LAYERS))
    missing = [layer for layer in wanted if layer not in watch.lines]
    if missing:
        raise SystemExit(f"netprobe printed no line for {missing}: {watch.serial[-10:]}")
    return {"lines": watch.lines, "sender": sender_figures(records)}


def stub_transfers(root: Path, mode: BootMode, via: str) -> dict[str, float]:
    """The stub's own transfer lines for the kernel and initrd: total bytes and ms."""
    events: list[Event] = []
    outcome = boot(
        BootRequest(
            root=root,
            mode=mode,
            expect=contract.SAMPLE_MARKER,
            timeout=300,
        ),
        events.append,
    )
    if not outcome.ok:
        raise SystemExit(f"{mode}: {outcome.kind}: {outcome.reason}")
    lines = [e.fields for e in events if isinstance(e, StubStep) and e.step == "transfer"]
    if not lines or any(line.get("via") != via for line in lines):
        raise SystemExit(f"{mode}: expected via={via}, got {[line.get('via') for line in lines]}")
    unit = TFTP_BLOCK if via == "mtftp4" else TCP_SEGMENT
    packets = sum(math.ceil(int(line["bytes"]) / unit) for line in lines)
    return {
        "bytes": sum(int(line["bytes"]) for line in lines),
        "packets": packets,
        "ms": sum(int(line["ms"]) for line in lines),
    }


def per_packet(value: str, packets: int) -> float | None:
    return float(value) if packets else None


def layer_rows(
    probe: dict[str, Any], tftp: dict[str, float], http: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """us_per_packet: probe layers, first to last packet of each burst (the receive path
    alone, the sender being faster); stub rows, the whole transfer (ACKs, round trips and
    SHA-256 included). us_with_requests: probe layers with each burst's request round trip."""
    rows: dict[str, dict[str, Any]] = {}
    for layer in PROBE_LAYERS:
        line = probe["lines"][layer]
        packets = int(line["packets"])
        rows[layer] = {
            "us_per_packet": per_packet(line["in_burst_us"], packets),
            "us_with_requests": per_packet(line["us_per_packet"], packets),
            "packets": packets,
            "lost": int(line["lost"]),
            "ms": int(line["ms"]),
            "wall_ms": int(line["wall_ms"]),
            "retries": int(line["retries"]),
            "bad_checksums": int(line["bad"]),
            # SHA-256 of 1472 bytes right after this layer: is the firmware left busy?
            "sha256_us_after": float(probe["lines"][f"sha256_after_{layer}"]["us_per_packet"]),
            **probe["sender"][layer],
        }
    for name, figures in (
        ("mtftp4 (stub, blksize 1468 window 8)", tftp),
        ("tcp4/http (stub)", http),
    ):
        us = round(figures["ms"] * 1000 / figures["packets"], 2)
        rows[name] = {
            "us_per_packet": us,
            "us_with_requests": us,
            "packets": figures["packets"],
            "bytes": figures["bytes"],
            "ms": figures["ms"],
            "lost": None,
            "measured_mb_s": round(figures["bytes"] / figures["ms"] / 1000, 2),
        }
    sha = probe["lines"]["sha256"]
    rows["sha256 of 1472 bytes (guest)"] = {
        "us_per_packet": float(sha["us_per_packet"]),
        "us_with_requests": None,
        "packets": int(sha["packets"]),
        "lost": None,
    }
    return rows


def plot(document: dict[str, Any], out: Path) -> None:
    from bench.plots import _pyplot

    plt = _pyplot()
    rows = {name: row for name, row in document["layers"].items() if row["us_per_packet"]}
    names = list(rows)
    values = [rows[name]["us_per_packet"] for name in names]
    colours = [
        "tab:blue" if name in PROBE_LAYERS else "tab:gray" if "sha256" in name else "tab:orange"
        for name in names
    ]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    axis.barh(names, values, color=colours)
    for index, value in enumerate(values):
        axis.text(value, index, f" {value:.1f} us", va="center")
    axis.invert_yaxis()
    axis.set_xlabel("microseconds per received packet (lower is better)")
    axis.set_title(
        "Receive cost per packet: probe layers (blue), the stub's firmware path (orange)",
        fontsize=10,
    )
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pad-mib", type=int, default=32)
    parser.add_argument(
        "--probe-only",
        action="store_true",
        help="boot the probe once and print its lines (no JSON, no plot)",
    )
    args = parser.parse_args()
    build_probe()
    if args.probe_only:
        with tempfile.TemporaryDirectory(prefix="bench-layers-") as scratch:
            print(json.dumps(run_probe(Path(scratch)), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as scratch:
        directory = Path(scratch)
        initrd = make_big_initrd(directory, args.pad_mib) if args.pad_mib else INITRD
        firmware = {"net-stack": "firmware"}
        tftp_tree = thin_tree(
            directory / "tftp",
            initrd,
            {**firmware, "tftp-blksize": str(TFTP_BLOCK), "tftp-window": "8"},
        )
        http_tree = thin_tree(directory / "http", initrd, firmware)
        probes, tftps, https = [], [], []
        args.load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            probes.append(run_probe(directory))
            tftps.append(stub_transfers(tftp_tree, "net", "mtftp4"))
            https.append(stub_transfers(http_tree, "http", "http"))
            print(f"mtftp4 {tftps[-1]}, http {https[-1]}", file=sys.stderr, flush=True)
    args.load.append(os.getloadavg()[0])
    rounds = [layer_rows(p, t, h) for p, t, h in zip(probes, tftps, https, strict=True)]
    report(args, rounds)


def fixed(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def report(args: argparse.Namespace, rounds: list[dict[str, dict[str, Any]]]) -> None:
    layers = rounds[-1]  # the last round's details; the figures below are over all rounds
    for name, row in layers.items():
        for key in ("us_per_packet", "us_with_requests"):
            runs = [r[name][key] for r in rounds]
            known = [run for run in runs if run is not None]
            row[key] = round(median(known), 2) if known else None
            row[f"runs_{key}"] = runs
        if row["lost"] is not None:
            row["lost"] = sum(r[name]["lost"] for r in rounds)
            row["packets"] = sum(r[name]["packets"] for r in rounds)
    snp = layers["snp"]["us_per_packet"]
    for row in layers.values():
        us = row["us_per_packet"]
        row["mb_s_at_1472"] = round(PAYLOAD / us, 2) if us else None
        row["relative_to_snp"] = round(us / snp, 2) if us and snp else None
    document = {
        "what": "microseconds per received packet. Probe layers (netprobe.efi, ~20000 "
        "datagrams of 1472 bytes in bursts of 64): us_per_packet from each burst's first to "
        "last packet, us_with_requests from each request to the burst's last packet. Stub "
        "rows: its transfer lines (kernel + initrd, SHA-256 in flight) per 1468-byte block or "
        "1448-byte segment. QEMU TCG + OVMF 2022.11 virtio-net",
        "initrd_mib": args.pad_mib,
        "rounds": args.rounds,
        # The machine is shared: every figure is wall time, so other load inflates it.
        "load_average_1min_before_after": [round(load, 2) for load in args.load],
        "tpl": {
            "snp": "TPL_CALLBACK while polling (MNP's timer cannot take frames)",
            "mnp": "TPL_APPLICATION, 8 Receive tokens, completion by notify function",
            "udp4": "TPL_APPLICATION, 8 Receive tokens, completion by notify function",
            "mnp_callback": "TPL_CALLBACK, completion read from the token's Status",
            "udp4_callback": "TPL_CALLBACK, completion read from the token's Status",
        },
        "layers": layers,
        "note": "lost and packets: summed over the rounds; other counts: the last round",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "layers.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(document, RESULTS / "layers.png")
    print(f"median of {args.rounds} (QEMU TCG, OVMF virtio-net)")
    headers = (
        "layer",
        "us per packet",
        "MB/s at 1472-byte payloads",
        "relative to SNP",
        "us with request round trips",
        "lost",
    )
    rows = [
        (
            name,
            fixed(row["us_per_packet"]),
            fixed(row["mb_s_at_1472"]),
            fixed(row["relative_to_snp"], 2, "x"),
            fixed(row["us_with_requests"]),
            "-" if row["lost"] is None else f"{row['lost']} of {row['packets'] + row['lost']}",
        )
        for name, row in layers.items()
    ]
    print(markdown_table(headers, rows))
    for name in PROBE_LAYERS:
        row = layers[name]
        print(
            f"{name}: {row['packets']} packets in {row['ms']} ms busy ({row['wall_ms']} ms "
            f"wall), {row['retries']} requests repeated, sender "
            f"{row['sender_us_per_packet']} us/packet, ICMP port unreachable "
            f"{row['icmp_port_unreachable']}, bad checksums {row['bad_checksums']}, SHA-256 "
            f"of 1472 bytes right after it {row['sha256_us_after']} us"
        )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


if __name__ == "__main__":
    main()
