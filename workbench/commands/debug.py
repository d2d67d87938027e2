"""`workbench debug ROOT`: boot a tree in the lab and step through the stub in GDB."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.commands.boot import describe
from workbench.debugger import DEFAULT_BREAKPOINTS, DebugOptions, DebugRequest, debug
from workbench.errors import BadInput
from workbench.lab.events import Event, Outcome
from workbench.lab.request import BOOT_MODES

DESCRIPTION = """\
Boot ROOT in the lab (as `workbench boot` does) with the stub under GDB, its symbols at the
address the firmware loaded it.

The machine's variable store gets StubWorkbenchDebug = 1 (ROOT is booted as it is):
the stub prints `stub: debug base=0x...` and waits. QEMU's gdbstub listens on a unix socket;
GDB then connects, loads the stub's unstripped ELF (stub.so beside the stub `workbench build`
uses, or --symbols) at that base, sets the breakpoints (default: console_error, the stub's
failure path), sets stub_debugger_attached = 1 and continues.

Interactive by default: GDB takes the terminal (Ctrl-C stops the guest), the console lines
come in between. --batch: at each breakpoint GDB prints bt, info args and info locals and
goes on, until the boot ends; then a summary. --gdb-commands FILE is sourced after the setup,
before the first continue.
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
    parser.add_argument("root", type=Path, metavar="ROOT", help="tree with EFI/BOOT/BOOTX64.EFI")
    parser.add_argument("--mode", choices=BOOT_MODES, default="local")
    parser.add_argument("--ipv6", action="store_true", help="--mode net|http over IPv6 only")
    parser.add_argument(
        "--break",
        dest="breakpoints",
        action="append",
        metavar="WHERE",
        help=f"a breakpoint (function, FILE:LINE); repeatable; default {DEFAULT_BREAKPOINTS[0]}",
    )
    parser.add_argument(
        "--gdb-commands", type=Path, metavar="FILE", help="GDB commands run after the setup"
    )
    parser.add_argument(
        "--batch", action="store_true", help="no prompt: report each breakpoint hit and go on"
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
        "--symbols", type=Path, metavar="ELF", help="the stub's unstripped ELF (default stub.so)"
    )
    parser.set_defaults(func=run)


def request_from(args: argparse.Namespace) -> DebugRequest:
    timeout = args.timeout
    if timeout is None:
        timeout = DEFAULT_BATCH_TIMEOUT if args.batch else DEFAULT_INTERACTIVE_TIMEOUT
    if timeout <= 0:
        raise BadInput("the timeout must be positive")
    options = DebugOptions(
        breakpoints=tuple(args.breakpoints or DEFAULT_BREAKPOINTS),
        batch=args.batch,
        user_commands=args.gdb_commands,
    )
    return DebugRequest(
        root=args.root,
        mode=args.mode,
        ipv6=args.ipv6,
        options=options,
        timeout=timeout,
        expect=args.expect,
        symbols=args.symbols,
    )


def run(args: argparse.Namespace) -> int:
    request = request_from(args)

    def show(event: Event) -> None:
        if isinstance(event, Outcome):
            return  # the summary says it
        line = describe(event)
        if line is not None:
            print(line, flush=True)

    def show_gdb(line: str) -> None:
        print(f"gdb: {line}", flush=True)

    result = debug(request, show, show_gdb)
    print(result.summary(), flush=True)
    sys.stdout.flush()
    return 0 if result.outcome.ok else 1
