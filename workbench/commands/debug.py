"""`workbench debug ROOT`: boot a tree in the lab and step through the stub in GDB."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.arch import NAMES
from workbench.commands.boot import arch_name, describe
from workbench.debugger import (
    DEFAULT_BREAKPOINTS,
    DebugOptions,
    DebugRequest,
    debug,
    summary_dict,
)
from workbench.errors import BadInput
from workbench.keys import secure_boot_options
from workbench.lab.events import Event, Outcome
from workbench.lab.request import BOOT_MODES

DESCRIPTION = """\
Boot ROOT in the lab (as `workbench boot` does) with the stub under GDB, its symbols at the
address the firmware loaded it.

The machine's variable store gets StubWorkbenchDebug = 1 (ROOT is booted as it is):
the stub prints `stub: debug base=0x...` and waits. QEMU's gdbstub listens on a unix socket;
GDB then connects, loads the stub's unstripped ELF (stub.so beside the stub `workbench build`
uses, stubaa64.so for arm64, or --symbols) at that base, sets the breakpoints (default:
console_error, the stub's failure path), sets stub_debugger_attached = 1 and continues.

Another image (a systemd-stub UKI, a lanzaboote stub, shim: anything without our .wbstub
section) waits for no debugger: GDB/MI then watches the firmware's debug image table (EDK2's
EFI_DEBUG_IMAGE_INFO_TABLE, kept by release builds too) until the firmware loads that file,
stops the machine at its entry point before its first instruction, and lists where every
image was loaded. --symbols ELF places that image's symbols (its addresses are the PE's
preferred base plus RVAs). At the prompt, each line is a GDB command run in that session.

Interactive by default: GDB takes the terminal (Ctrl-C stops the guest), the console lines
come in between. --batch: at each breakpoint GDB prints bt, info args and info locals and
goes on, until the boot ends; then a summary. --gdb-commands FILE is sourced after the setup,
before the first continue. --json (with --batch): one JSON object per line, the boot's events,
{"type": "GdbLine", "text": ...} for GDB's output, and a DebugSummary last.
--secure-boot --keys KEYDIR: the firmware enforces Secure Boot with KEYDIR enrolled, the
debugger attached or not. --tpm: a TPM 2.0 for the guest, PCR 11 checked as `boot --tpm`.
Exit status: 0 the boot reached its goal, 1 it did not, 2 bad input, 3 a missing tool.
"""
DEFAULT_BATCH_TIMEOUT = 150.0
# A person at the prompt: the boot's own clock should not end the session.
DEFAULT_INTERACTIVE_TIMEOUT = 3600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "debug",
        help="boot a tree in the lab with the stub under GDB (symbols at its load address)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: workbench debug esp --batch --break local_read",
    )
    parser.add_argument(
        "root", type=Path, metavar="ROOT", help="tree with EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI"
    )
    parser.add_argument("--arch", choices=NAMES,
                        help="the machine, for a tree with both boot files (default: the tree's, "
                        "x86_64 first); arm64 guests are debugged with gdb-multiarch")  # fmt: skip
    parser.add_argument("--mode", choices=BOOT_MODES, default="local")
    parser.add_argument("--ipv6", action="store_true", help="--mode net|http over IPv6 only")
    parser.add_argument(
        "--break",
        dest="breakpoints",
        action="append",
        metavar="WHERE",
        help=f"a breakpoint (function, FILE:LINE, *ADDRESS); repeatable; {DEFAULT_BREAKPOINTS[0]} "
        "(the stub's failure path) is always set",
    )
    parser.add_argument(
        "--gdb-commands", type=Path, metavar="FILE", help="GDB commands run after the setup"
    )
    parser.add_argument(
        "--batch", action="store_true", help="no prompt: report each breakpoint hit and go on"
    )
    parser.add_argument(
        "--from-entry",
        action="store_true",
        help="our stub too: stop at its first instruction (the firmware's debug image table) "
        "instead of letting it wait, so `--break efi_main` hits",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help=f"the whole boot (default {DEFAULT_BATCH_TIMEOUT:g} with --batch, else "
        f"{DEFAULT_INTERACTIVE_TIMEOUT:g})",
    )
    parser.add_argument("--expect", metavar="TEXT", help="serial text that means success")
    parser.add_argument(
        "--symbols",
        type=Path,
        metavar="ELF",
        help="the image's unstripped ELF or debug file (our stub: default stub.so beside it)",
    )
    parser.add_argument("--log", type=Path, metavar="FILE", help="also write the console here")
    parser.add_argument(
        "--json", action="store_true", help="with --batch: JSON lines, a DebugSummary last"
    )
    parser.add_argument(
        "--secure-boot", action="store_true", help="Secure Boot OVMF with --keys enrolled"
    )
    parser.add_argument("--keys", type=Path, metavar="KEYDIR", help="with --secure-boot")
    parser.add_argument("--tpm", action="store_true", help="give the guest a TPM 2.0 (swtpm)")
    parser.set_defaults(func=run)


def request_from(args: argparse.Namespace, vars_template: Path | None = None) -> DebugRequest:
    timeout = args.timeout
    if timeout is None:
        timeout = DEFAULT_BATCH_TIMEOUT if args.batch else DEFAULT_INTERACTIVE_TIMEOUT
    if timeout <= 0:
        raise BadInput("the timeout must be positive")
    options = DebugOptions(
        # The failure path always breaks, whatever else is asked for.
        breakpoints=tuple(dict.fromkeys((*DEFAULT_BREAKPOINTS, *(args.breakpoints or ())))),
        batch=args.batch,
        user_commands=args.gdb_commands,
        from_entry=args.from_entry,
    )
    return DebugRequest(
        root=args.root,
        mode=args.mode,
        ipv6=args.ipv6,
        options=options,
        timeout=timeout,
        expect=args.expect,
        symbols=args.symbols,
        secure_boot=args.secure_boot,
        vars_template=vars_template,
        tpm=args.tpm,
        log=args.log,
        arch=args.arch,
    )


def run(args: argparse.Namespace) -> int:
    if args.json and not args.batch:
        raise BadInput("--json needs --batch (at the prompt GDB writes to the terminal)")
    with secure_boot_options(args.secure_boot, args.keys, arch_name(args)) as vars_template:
        return _run(args, request_from(args, vars_template))


def _run(args: argparse.Namespace, request: DebugRequest) -> int:
    def show(event: Event) -> None:
        if isinstance(event, Outcome):
            return  # the summary says it
        line = json.dumps(event.to_dict()) if args.json else describe(event)
        if line is not None:
            print(line, flush=True)

    def show_gdb(line: str) -> None:
        text = json.dumps({"type": "GdbLine", "text": line}) if args.json else f"gdb: {line}"
        print(text, flush=True)

    result = debug(request, show, show_gdb)
    print(json.dumps(summary_dict(result)) if args.json else result.summary(), flush=True)
    sys.stdout.flush()
    return 0 if result.outcome.ok else 1
