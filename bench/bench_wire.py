"""Wire speed with iPXE as the anchor: the same tree (sample kernel + a 32 MiB incompressible
initrd) fetched by our stub every way the lab offers, and by iPXE chainloaded from OVMF.

Cases, each a whole boot under QEMU TCG + OVMF to the sample initramfs's marker:
- our stub from the local ESP;
- our stub by PXE + TFTP and by UEFI HTTP Boot + HTTP over IPv4, with `.policy
  net-stack=own` and `net-stack=firmware` (the `via=` of its transfer lines says which path
  ran), and over IPv6 (the firmware's path: the own path is IPv4 only);
- iPXE (`snponly.efi`, `ipxe.efi` from Debian's `ipxe`), the PXE boot file of OVMF, fetching
  the same two files by an iPXE script over HTTP, and over TFTP (`tftp://` URLs).

The figure compared across all of them is measured server-side, the same way for everyone:
from the lab server's first event for either file (the request of the kernel) to its last
`done` for either file (the initrd's last byte sent over HTTP, acknowledged over TFTP). Beside
it: the stub's own `transfer ... ms=` lines, the stub time (its first `stub:` line to
`starting kernel`) and the whole run (QEMU's start to the marker). Medians of --rounds.

Run: .venv/bin/python -m bench.bench_wire [--rounds 3] [--pad-mib 32] [--only TEXT]
Writes bench/results/wire.json and wire.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.bench_boot import INITRD, make_big_initrd
from bench.bench_netboot import CMDLINE, thin_tree
from bench.common import REPO, RESULTS, add_round_options, format_table, median
from workbench import contract
from workbench.lab.boot import BootRequest, BootRun
from workbench.lab.events import Event, LabNote, Outcome, StubStep, Transfer
from workbench.lab.firmware import Firmware
from workbench.lab.netns import SERVER_ADDRESS, NetLab, unshare_command
from workbench.pe.edit import rewrite_sections

IPXE_DIR = Path("/usr/lib/ipxe")
IPXE_BINARIES = ("snponly.efi", "ipxe.efi")
ANCHOR = "snponly.efi"
NET_STACKS = ("firmware", "own")
Protocol = Literal["tftp", "http"]
Mode = Literal["local", "net", "http"]
PROTOCOLS: tuple[Protocol, ...] = ("http", "tftp")
# How the firmware starts our stub, and what the stub then fetches with.
STUB_WAYS: tuple[tuple[str, Mode, Protocol], ...] = (
    ("PXE + TFTP", "net", "tftp"),
    ("HTTP Boot + HTTP", "http", "http"),
)
MEASURE = (
    "server-side: the lab server's first event for the kernel or initrd (the first request) "
    "to its last `done` for either (HTTP: last byte sent; TFTP: last block acknowledged); "
    "the local ESP has no server: the stub's own kernel + initrd ms"
)


@dataclass
class Case:
    name: str
    root: Path
    mode: Mode
    protocol: Protocol | None  # None: the local ESP
    ipv6: bool = False
    net_stack: str | None = None  # the stub's `.policy net-stack=`, None: not set
    ipxe_script: str | None = None  # an iPXE case: the script's URL, handed out by DHCP
    rounds: list[dict[str, Any]] = field(default_factory=list)


# -- trees -----------------------------------------------------------------------------------


def linked_copy(source: Path, target: Path) -> Path:
    """The tree again, its files hard links (no 50 MB copies); rewrites replace, never edit."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


def with_policy(source: Path, target: Path, policy: str) -> Path:
    """The tree with the stub's `.policy` section set as written, unchecked: a key the
    workbench does not know yet still reaches the stub, which reports what it makes of it."""
    linked_copy(source, target)
    rewrite_sections(target / contract.BOOT_PATH, {contract.POLICY: policy.encode()})
    return target


def payload_names(tree: Path) -> tuple[str, str]:
    """The kernel's and the initrd's paths under the tree (the thin layout: EFI/Linux/*)."""
    files = sorted((tree / contract.LINUX_DIR).iterdir())
    kernel = next(f for f in files if "initrd" not in f.name)
    initrd = next(f for f in files if "initrd" in f.name)
    return (str(kernel.relative_to(tree)), str(initrd.relative_to(tree)))


def ipxe_tree(source: Path, target: Path, binary: str) -> Path:
    """The tree with iPXE as the PXE boot file and one script per protocol beside it."""
    linked_copy(source, target)
    (target / contract.BOOT_PATH).unlink()
    shutil.copyfile(IPXE_DIR / binary, target / contract.BOOT_PATH)
    kernel, initrd = payload_names(source)
    for protocol in PROTOCOLS:
        base = f"{protocol}://{SERVER_ADDRESS}"
        (target / f"wire-{protocol}.ipxe").write_text(
            f"#!ipxe\nkernel {base}/{kernel} initrd={Path(initrd).name} {CMDLINE}\n"
            f"initrd {base}/{initrd}\nboot\n"
        )
    return target


# -- the iPXE lab: the network lab with DHCP that tells OVMF from iPXE ---------------------------


def ipxe_dhcp_options(script_url: str) -> list[str]:
    """OVMF gets iPXE by PXE, iPXE (user class "iPXE", or option 175) gets the script; router
    advertisements for fd00::/64 spare iPXE its wait for IPv6 (about 13 s)."""
    return [
        "--dhcp-range=10.0.2.15,10.0.2.50,1h",
        "--dhcp-userclass=set:ipxe,iPXE",
        "--dhcp-match=set:ipxe,175",
        f"--dhcp-boot=tag:!ipxe,{contract.BOOT_PATH},,{SERVER_ADDRESS}",
        f"--dhcp-boot=tag:ipxe,{script_url}",
        "--dhcp-no-override",
        "--enable-ra",
        "--dhcp-range=fd00::,ra-only",
    ]


def lab_child(config_path: str) -> int:
    """Inside the namespace: the lab's own child with iPXE's DHCP settings and an IPv6 address
    on the tap for the router advertisements. Both servers run: TFTP on 69, HTTP on 80."""
    from workbench.lab import netns_child

    script_url = json.loads(Path(config_path).read_text())["ipxe_script"]
    bring_up = netns_child.bring_up_network

    def bring_up_dual(ipv6: bool) -> None:
        bring_up(ipv6)
        netns_child.ip("-6", "addr", "add", "fd00::2/64", "dev", netns_child.TAP_DEVICE, "nodad")

    netns_child.bring_up_network = bring_up_dual
    netns_child.dhcp_options = lambda config: ipxe_dhcp_options(script_url)
    return netns_child.main([config_path])


class IpxeLab(NetLab):
    """NetLab running this module's child (see lab_child) instead of the lab's own."""

    def __init__(self, request: BootRequest, firmware: Firmware, workdir: Path,
                 script_url: str) -> None:  # fmt: skip
        super().__init__(request, firmware, workdir)
        self.script_url = script_url

    def start(self, publish: Callable[[Event], None]) -> None:
        config_path = self.workdir / "lab.json"
        config = json.loads(self.config().to_json())
        config_path.write_text(json.dumps({**config, "ipxe_script": self.script_url}))
        command = [*unshare_command(), sys.executable, "-m", "bench.bench_wire",
                   "--lab-child", str(config_path)]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True,
                                        cwd=REPO)  # fmt: skip
        publish(LabNote(f"iPXE lab started (pid {self.process.pid})"))
        self._reader = threading.Thread(target=self._read, args=(publish,), daemon=True)
        self._reader.start()
        assert self.process.stderr is not None
        threading.Thread(target=self._stderr.drain, args=(self.process.stderr,),
                         daemon=True).start()  # fmt: skip


class IpxeRun(BootRun):
    def __init__(self, request: BootRequest, script_url: str,
                 on_event: Callable[[Event], None]) -> None:  # fmt: skip
        super().__init__(request, on_event)
        self.script_url = script_url

    def _make_lab(self, firmware: Firmware, workdir: Path) -> NetLab:
        return IpxeLab(self.request, firmware, workdir, self.script_url)


# -- one boot, measured ----------------------------------------------------------------------


def basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def server_span(events: list[Event], names: set[str]) -> float | None:
    """The first server event for either file to the last `done` of either (see MEASURE)."""
    transfers = [e for e in events if isinstance(e, Transfer) and basename(e.filename) in names]
    done = [e.t for e in transfers if e.state == "done"]
    if not transfers or len({basename(e.filename) for e in transfers if e.state == "done"}) < 2:
        return None
    return max(done) - min(e.t for e in transfers)


# OVMF 2022.11's HTTP Boot over IPv6 sometimes gives up before the stub runs (see the lab's
# notes in README: DHCPv6 before duplicate address detection ends). Such a boot says nothing
# about the stub: it gets another machine, up to this many in all.
FIRMWARE_ATTEMPTS = 3


def boot_once(case: Case) -> tuple[Outcome, list[Event]]:
    events: list[Event] = []
    request = BootRequest(root=case.root, mode=case.mode, expect=contract.SAMPLE_MARKER,
                          timeout=300, ipv6=case.ipv6)  # fmt: skip
    if case.ipxe_script is not None:
        return IpxeRun(request, case.ipxe_script, events.append).run(), events
    return BootRun(request, events.append).run(), events


def measure(case: Case, names: set[str]) -> dict[str, Any]:
    for attempt in range(1, FIRMWARE_ATTEMPTS + 1):
        outcome, events = boot_once(case)
        stub_ran = any(isinstance(e, StubStep) for e in events)
        if outcome.ok or stub_ran or not (case.ipv6 and case.mode == "http"):
            break
        print(f"  {case.name}: the firmware gave up before the stub ({outcome.kind}), "
              f"attempt {attempt} of {FIRMWARE_ATTEMPTS}")  # fmt: skip
    if not outcome.ok:
        raise SystemExit(f"{case.name}: {outcome.kind}: {outcome.reason}")
    steps = [e for e in events if isinstance(e, StubStep)]
    ends = [s.t for s in steps if s.step == "starting"]
    stub_transfers = {s.subject: s.fields for s in steps if s.step == "transfer" and s.subject}
    stub_ms = [int(f["ms"]) for f in stub_transfers.values() if f.get("ms", "").isdigit()]
    transfer = server_span(events, names)
    if case.protocol is None and len(stub_ms) == 2:
        transfer = sum(stub_ms) / 1000
    return {
        "transfer_s": transfer,
        "stub_s": ends[0] - steps[0].t if steps and ends else None,
        "whole_s": outcome.seconds,
        "stub_ms": sum(stub_ms) if stub_ms else None,
        "via": sorted({f.get("via", "?") for f in stub_transfers.values()}),
        "stub_transfers": stub_transfers,
        "warnings": [s.raw for s in steps if s.step == "warning"],
        # Other work on the machine slows TCG and the servers' threads alike: kept to judge by.
        "load_1min": round(os.getloadavg()[0], 2),
    }


def summarise(case: Case) -> dict[str, Any]:
    def pick(key: str) -> list[float]:
        return [r[key] for r in case.rounds if r[key] is not None]

    def middle(key: str) -> float | None:
        values = pick(key)
        return round(median(values), 3) if values else None

    last = case.rounds[-1]
    return {
        "kind": "ipxe" if case.ipxe_script else "local" if case.protocol is None else "stub",
        "protocol": case.protocol,
        "ipv6": case.ipv6,
        "net_stack": case.net_stack,
        "transfer_median_s": middle("transfer_s"),
        "stub_median_s": middle("stub_s"),
        "whole_median_s": middle("whole_s"),
        "stub_ms_median": middle("stub_ms"),
        "transfer_runs_s": [round(v, 3) for v in pick("transfer_s")],
        "stub_runs_s": [round(v, 3) for v in pick("stub_s")],
        "whole_runs_s": [round(v, 3) for v in pick("whole_s")],
        "via": sorted({v for r in case.rounds for v in r["via"]}),
        "stub_transfers": last["stub_transfers"],
        "warnings": sorted({w for r in case.rounds for w in r["warnings"]}),
        "load_1min_max": max(r["load_1min"] for r in case.rounds),
    }


# -- the cases -------------------------------------------------------------------------------


def make_cases(directory: Path, initrd: Path) -> list[Case]:
    tree = thin_tree(directory / "thin", initrd)
    cases = [Case("stub, local ESP", tree, "local", None)]
    for stack in NET_STACKS:
        root = with_policy(tree, directory / f"stack-{stack}", f"net-stack={stack}\n")
        # The own path is IPv4 only: over IPv6 both stacks are the firmware's, measured once.
        for ipv6 in (False, True) if stack == "firmware" else (False,):
            family = "IPv6" if ipv6 else "IPv4"
            for label, mode, protocol in STUB_WAYS:
                name = f"stub {stack}, {label}, {family}"
                cases.append(Case(name, root, mode, protocol, ipv6, stack))
    for binary in IPXE_BINARIES:
        root = ipxe_tree(tree, directory / binary.replace(".", "-"), binary)
        for protocol in PROTOCOLS:
            url = f"{protocol}://{SERVER_ADDRESS}/wire-{protocol}.ipxe"
            label = "HTTP" if protocol == "http" else "TFTP"
            cases.append(Case(f"iPXE {binary}, {label}, IPv4", root, "net", protocol,
                              ipxe_script=url))  # fmt: skip
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_round_options(parser)
    parser.add_argument("--lab-child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lab_child:
        sys.exit(lab_child(args.lab_child))
    if not all((IPXE_DIR / binary).is_file() for binary in IPXE_BINARIES):
        raise SystemExit(f"no iPXE in {IPXE_DIR} (apt-get install ipxe)")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-wire-") as scratch:
        directory = Path(scratch)
        initrd = make_big_initrd(directory, args.pad_mib) if args.pad_mib else INITRD
        cases = make_cases(directory, initrd)
        names = {basename(name) for name in payload_names(cases[0].root)}
        if args.only:
            cases = [case for case in cases if args.only in case.name]
        # Round after round over every case: a slower spell on the shared machine touches
        # every case a little, rather than one case a lot.
        for round_number in range(1, args.rounds + 1):
            for case in cases:
                result = measure(case, names)
                case.rounds.append(result)
                figures = " ".join(f"{key.removesuffix('_s')} {result[key]:.2f}s"
                                   for key in ("transfer_s", "stub_s", "whole_s")
                                   if result[key] is not None)  # fmt: skip
                print(f"[{round_number}/{args.rounds}] {case.name}: {figures} "
                      f"via={','.join(result['via']) or '-'} load {result['load_1min']} "
                      f"{' '.join(result['warnings'])}", file=sys.stderr, flush=True)  # fmt: skip
        results = {case.name: summarise(case) for case in cases}
    elapsed = time.monotonic() - began
    if args.only:
        print(json.dumps(results, indent=2))
        return
    report(args, results, elapsed)


# -- the report ------------------------------------------------------------------------------


def anchor_name(protocol: str | None) -> str | None:
    if protocol is None:
        return None
    return f"iPXE {ANCHOR}, {'HTTP' if protocol == 'http' else 'TFTP'}, IPv4"


def ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 2) if value and reference else None


def with_ratios(results: dict[str, dict[str, Any]]) -> None:
    """Each case against iPXE snponly over the same protocol (and over HTTP, its fastest),
    and against the local ESP."""
    local = results["stub, local ESP"]
    best = results[anchor_name("http") or ""]
    for case in results.values():
        anchor = results.get(anchor_name(case["protocol"]) or "", {})
        case["ratios"] = {
            "transfer_x_ipxe_snponly": ratio(case["transfer_median_s"],
                                             anchor.get("transfer_median_s")),
            "transfer_x_ipxe_snponly_http": ratio(case["transfer_median_s"],
                                                  best["transfer_median_s"]),
            "whole_x_ipxe_snponly": ratio(case["whole_median_s"], anchor.get("whole_median_s")),
            "transfer_x_local": ratio(case["transfer_median_s"], local["transfer_median_s"]),
            "stub_x_local": ratio(case["stub_median_s"], local["stub_median_s"]),
            "whole_x_local": ratio(case["whole_median_s"], local["whole_median_s"]),
        }  # fmt: skip


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]], elapsed: float) -> None:
    with_ratios(results)
    document = {
        "what": "QEMU TCG + OVMF, sample kernel + an incompressible initrd; stub: its first "
        "`stub:` line to `starting kernel`; whole: QEMU's start to the sample marker; ratios "
        "against iPXE snponly.efi over the same protocol and against the local ESP",
        "transfer_measure": MEASURE,
        "initrd_mib": args.pad_mib,
        "rounds": args.rounds,
        "elapsed_s": round(elapsed, 1),
        "cores": os.cpu_count(),
        "cases": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "wire.json").write_text(json.dumps(document, indent=2) + "\n")
    plot_wire(document, RESULTS / "wire.png")

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    rows = []
    for name, case in results.items():
        r = case["ratios"]
        rows.append((name, ",".join(case["via"]) or "-", seconds(case["transfer_median_s"]),
                     times(r["transfer_x_ipxe_snponly"]), times(r["transfer_x_local"]),
                     seconds(case["stub_median_s"]), times(r["stub_x_local"]),
                     seconds(case["whole_median_s"]), times(r["whole_x_ipxe_snponly"]),
                     times(r["whole_x_local"])))  # fmt: skip
    print(f"median of {args.rounds} (QEMU TCG, OVMF), sample kernel + {args.pad_mib} MiB initrd")
    print(f"transfer = {MEASURE}")
    print("x iPXE = against iPXE snponly.efi over the same protocol (HTTP or TFTP)")
    print(format_table(("case", "via", "transfer s", "x iPXE", "x local", "stub s", "x local",
                        "whole s", "x iPXE", "x local"), rows))  # fmt: skip
    warnings = sorted({w for case in results.values() for w in case["warnings"]})
    for warning in warnings:
        print(f"stub said: {warning}")
    load = max(case["load_1min_max"] for case in results.values())
    cores = os.cpu_count() or 1
    if load > cores:
        print(f"the machine was busy (1-minute load up to {load:.1f} on {cores} cores): "
              "expect noise, lock-step TFTP most of all")  # fmt: skip
    print(f"whole benchmark: {elapsed / 60:.1f} min")


def plot_wire(document: dict[str, Any], out: Path) -> None:
    """Transfer time and whole run per case; iPXE snponly over HTTP as the reference line."""
    from bench.plots import _pyplot

    plt = _pyplot()
    cases = document["cases"]
    names = list(cases)
    colours = {"local": "tab:gray", "ipxe": "tab:green"}
    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 6), sharey=True)
    for axis, key, title in ((left, "transfer_median_s", "transfer of kernel + initrd"),
                             (right, "whole_median_s", "QEMU start to userspace")):  # fmt: skip
        values = [cases[n][key] or 0.0 for n in names]
        colour = [colours.get(cases[n]["kind"]) or
                  ("tab:orange" if cases[n]["net_stack"] == "own" else "tab:blue")
                  for n in names]  # fmt: skip
        axis.barh(names, values, color=colour)
        for index, value in enumerate(values):
            axis.text(value, index, f" {value:.2f}s" if value else " -", va="center")
        anchor = cases.get(anchor_name("http") or "", {}).get(key)
        if anchor:
            axis.axvline(anchor, color="tab:green", linestyle="--",
                         label="iPXE snponly.efi over HTTP")  # fmt: skip
        axis.set_xlabel(f"seconds, {title} (lower is better)")
        axis.grid(axis="x", alpha=0.3)
    left.invert_yaxis()
    left.legend(loc="lower right")
    figure.suptitle(f"Wire speed under QEMU TCG: our stub (blue: net-stack=firmware, orange: "
                    f"own) vs iPXE (green), sample kernel + {document['initrd_mib']} MiB "
                    f"initrd, median of {document['rounds']}")  # fmt: skip
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
