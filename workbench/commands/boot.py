"""`workbench boot ROOT`: boot a tree in QEMU + OVMF and report what happened."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.arch import NAMES, boot_path_in
from workbench.commands.serve import add_fault_options, fault_plan
from workbench.errors import WorkbenchError
from workbench.keys import secure_boot_options
from workbench.lab.boot import TFTP_SERVERS, BootRequest, BootRun
from workbench.lab.events import (
    Event,
    LabFailed,
    LabNote,
    MachineExit,
    Outcome,
    Reset,
    SerialLine,
    Transfer,
)
from workbench.lab.request import BOOT_MODES, ShimOptions
from workbench.sbat import level_text
from workbench.textsafe import printable

DESCRIPTION = """\
Boot ROOT (a tree with EFI/BOOT/BOOTX64.EFI, as `workbench build` makes it) in QEMU with OVMF
and stream the serial console as it happens; the last line is the outcome.

  --arch        the machine: x86_64 (q35, OVMF) or aarch64 (virt, AAVMF, always emulated).
                Default: the tree's, by its EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI; a tree with
                both boots x86_64. Over the network the lab's DHCP answers each machine by
                its architecture (option 93 / DHCPv6 61), so one tree with both boot files
                serves both kinds of machine. BOOTX64.EFI below stands for the arch's file.

  --mode local  ROOT becomes a FAT disk image (the ESP); no network.
  --mode net    ROOT is served over TFTP inside a private network namespace (tap device,
                dnsmasq as DHCP only, nothing reaches the host's networks); the firmware
                PXE-boots EFI/BOOT/BOOTX64.EFI and TFTP transfers are shown too.
  --mode http   the same namespace, but ROOT is served over HTTP and the firmware boots
                http://10.0.2.2/EFI/BOOT/BOOTX64.EFI by UEFI HTTP Boot (dnsmasq answers the
                HTTPClient vendor class with that URL; OVMF's PXE is switched off).
  --ipv6        with net or http: the namespace is IPv6 only (fd00::/64, DHCPv6 and router
                advertisements) and OVMF loads no IPv4 stack; the URL is tftp:// or
                http://[fd00::2]/EFI/BOOT/BOOTX64.EFI (DHCPv6 option 59). HTTP Boot over
                IPv6 lets the firmware's PXE over IPv6 fail first: it readies the IPv6
                stack that OVMF 2022.11's HTTP Boot needs.

  --shim        boot the way distributions ship Secure Boot: EFI/BOOT/BOOTX64.EFI is Debian's
                Microsoft-signed shim, the tree's stub becomes EFI/BOOT/grubx64.efi (shim's
                second stage, fetched next to shim from the disk, by TFTP or by HTTP),
                signed with KEYDIR's db key, which is enrolled as a MOK; the firmware runs
                with Microsoft's keys. The tree itself is not changed (the lab boots a copy).
                Shim's refusal of the stub ends the run (shim-refused) with shim's reason.

  --guests N    with net or http: N machines (1 to 16) boot at once in the one lab, on one
                bridge, with MACs 52:54:00:12:34:56, ...:57 and so on; each has its own
                console, outcome and timeline. Lines start with [gN] (the lab's own with
                nothing), --json events carry "guest" (null: the lab's), --log FILE writes
                FILE.g0, FILE.g1... The run ends with each guest's outcome and a summary;
                it succeeds only when every guest does. Transfers are a guest's by the address
                DHCP gave it. Not with --tpm, --shim or link faults.

Success: with --expect TEXT, TEXT appears on the serial console. Without it, the stub starts
the kernel (`stub: starting kernel`) and the machine then powers itself off; for another
loader, which prints no `stub:` lines, powering off cleanly is enough.
A `stub: error:` line fails the run once the machine resets (more than --max-resets times).
Exit status: 0 success, 1 failure (the outcome line says why), 2 bad input.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "boot",
        help="boot a tree in QEMU + OVMF (local ESP or private netboot)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, metavar="ROOT", help="tree with EFI/BOOT/BOOTX64.EFI")
    parser.add_argument("--mode", choices=BOOT_MODES, default="local")
    parser.add_argument(
        "--arch", choices=NAMES, help="the machine (default: the tree's; x86_64 with both)"
    )
    parser.add_argument("--ipv6", action="store_true", help="--mode net|http over IPv6 only")
    parser.add_argument("--expect", metavar="TEXT", help="serial text that means success")
    parser.add_argument("--timeout", type=float, default=120, metavar="S", help="default 120")
    parser.add_argument("--log", type=Path, metavar="FILE", help="also write the console here")
    parser.add_argument("--json", action="store_true", help="JSON lines: events, then outcome")
    parser.add_argument(
        "--guests",
        type=int,
        default=1,
        metavar="N",
        help="--mode net|http: boot N machines at once in one lab (default 1, at most 16)",
    )
    parser.add_argument(
        "--max-resets",
        type=int,
        default=0,
        metavar="N",
        help="keep going through N resets (e.g. a netboot retried after an error)",
    )
    parser.add_argument(
        "--secure-boot",
        action="store_true",
        help="Secure Boot OVMF with --keys enrolled: unsigned or wrongly signed images are refused",
    )
    parser.add_argument(
        "--keys",
        type=Path,
        metavar="KEYDIR",
        help="with --secure-boot: PK/KEK/db to enroll; with --shim: the db pair, enrolled as a "
        "MOK and signing the stub (default: throwaway test keys)",
    )
    parser.add_argument(
        "--shim",
        action="store_true",
        help="boot through Debian's Microsoft-signed shim with Microsoft's keys, the stub as "
        "shim's second stage (grubx64.efi) signed with the MOK",
    )
    parser.add_argument(
        "--stub-as-is",
        action="store_true",
        help="with --shim: do not sign the stub (see what shim does with it unsigned or "
        "signed by another key)",
    )
    parser.add_argument(
        "--sbat-level",
        metavar="LEVEL",
        help="with --shim: SbatLevel for shim, rows NAME,GENERATION separated by spaces, or "
        "@FILE (e.g. 'stub-workbench,2' revokes generation 1)",
    )
    parser.add_argument(
        "--tpm",
        action="store_true",
        help="give the guest a TPM 2.0 (swtpm); the run then checks the PCR 11 the kernel reads "
        "against `workbench pcrs` (the sample initramfs prints it)",
    )
    parser.add_argument(
        "--tftp-server",
        choices=TFTP_SERVERS,
        default="workbench",
        help="--mode net: the lab's TFTP server; atftpd and dnsmasq are peers to compare with",
    )
    parser.add_argument(
        "--tftp-max-window",
        type=int,
        default=64,
        metavar="N",
        help="--mode net: largest RFC 7440 window our server grants (1: lock-step only)",
    )
    faults = parser.add_argument_group(
        "faults (--mode net: TFTP, --mode http: HTTP; NAME as the client asks for it, "
        "e.g. EFI/Linux/vmlinuz)"
    )
    add_fault_options(faults)
    parser.set_defaults(func=run)


def describe(event: Event) -> str | None:
    """One human line for an event, or None for events the console line already shows."""
    if isinstance(event, SerialLine):
        return event.text
    if isinstance(event, Transfer):
        if event.state in ("progress", "probe"):
            return None
        size = f" {event.bytes} bytes" if event.bytes else ""
        if event.state == "started" and event.blksize:
            size += f" blksize={event.blksize} window={event.window}"
        took = f" in {event.seconds:.2f}s" if event.state == "done" else ""
        if event.state == "done" and event.retransmits:
            took += f", {event.retransmits} resent"
        # Names and errors come from the network: escaped, they cannot forge lines or drive
        # the terminal.
        error = f": {printable(event.error)}" if event.error else ""
        name = printable(event.filename)
        return f"[{event.protocol}] {event.state} {name} ({event.client}){size}{took}{error}"
    if isinstance(event, LabNote):
        return f"[lab] {event.text}"
    if isinstance(event, Reset):
        return f"[lab] machine reset ({event.reason or 'reset'})"
    if isinstance(event, MachineExit):
        how = "powered off" if event.guest_shutdown else f"exited with code {event.code}"
        return f"[lab] machine {how}"
    if isinstance(event, LabFailed):
        return f"[lab] failed: {event.reason}"
    if isinstance(event, Outcome):
        verdict = "ok" if event.ok else "FAILED"
        extra = f", {event.resets} reset(s)" if event.resets else ""
        line = f"outcome: {verdict}: {event.kind} after {event.seconds:.1f}s{extra}: {event.reason}"
        if event.pcrs:
            for bank, values in event.pcrs["predicted"].items():
                measured = event.pcrs["measured"].get(bank, {}).get("11", "-")
                line += f"\n  {bank} pcr 11 predicted {values['11']}"
                line += f"\n  {bank} pcr 11 measured  {measured}"
        return line
    return None


def describe_guest(event: Event) -> str | None:
    """describe() for a run of several guests: each line of a guest's event starts with
    [gN]; the run's summary (an outcome of no guest) says so."""
    if isinstance(event, Outcome) and event.guest is None:
        verdict = "ok" if event.ok else "FAILED"
        return f"summary: {verdict}: {event.reason} after {event.seconds:.1f}s"
    text = describe(event)
    if text is None or event.guest is None:
        return text
    return "\n".join(f"[g{event.guest}] {line}" for line in text.split("\n"))


def run(args: argparse.Namespace) -> int:
    if args.shim:
        return _run(args, None, shim_options(args))
    if args.stub_as_is or args.sbat_level is not None:
        raise WorkbenchError("--stub-as-is and --sbat-level apply only with --shim")
    with secure_boot_options(args.secure_boot, args.keys, arch_name(args)) as vars_template:
        return _run(args, vars_template)


def arch_name(args: argparse.Namespace) -> str:
    """The machine's arch, for the Secure Boot store to enroll into; a ROOT without a boot file
    is left to the run's own check, after the options'."""
    if args.arch is not None:
        return args.arch
    found = boot_path_in(Path(args.root)) if Path(args.root).is_dir() else None
    return found[0].name if found else "x86_64"


def shim_options(args: argparse.Namespace) -> ShimOptions:
    if args.secure_boot:
        raise WorkbenchError("--shim boots with Microsoft's keys; leave out --secure-boot")
    if args.keys is not None and not args.keys.is_dir():
        raise WorkbenchError(f"{args.keys}: no such key directory (run 'workbench keys init')")
    level = level_text(args.sbat_level) if args.sbat_level is not None else None
    return ShimOptions(keys=args.keys, sign=not args.stub_as_is, sbat_level=level)


def _run(
    args: argparse.Namespace, vars_template: Path | None, shim: ShimOptions | None = None
) -> int:
    faults = fault_plan(args)
    request = BootRequest(
        root=args.root,
        mode=args.mode,
        expect=args.expect,
        timeout=args.timeout,
        log=args.log,
        max_resets=args.max_resets,
        secure_boot=args.secure_boot,
        vars_template=vars_template,
        faults=faults,
        tftp_server=args.tftp_server,
        tftp_max_window=args.tftp_max_window,
        tpm=args.tpm,
        ipv6=args.ipv6,
        shim=shim,
        guests=args.guests,
        arch=args.arch,
    )
    several = args.guests > 1

    def show(event: Event) -> None:
        # ASCII JSON: a name with C1 or bidi controls reaches a terminal escaped.
        if args.json:
            data = event.to_dict()
            if several:
                data["guest"] = event.guest  # to_dict() leaves out guest 0
            line: str | None = json.dumps(data)
        else:
            line = describe_guest(event) if several else describe(event)
        if line is not None:
            print(line, flush=True)

    outcome = BootRun(request, show).run()
    sys.stdout.flush()
    return 0 if outcome.ok else 1
