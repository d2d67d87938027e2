"""`workbench serve ROOT`: the read-only TFTP (or, with --http, HTTP) server in the
foreground, logging transfers; with --pxe, a whole boot server on one interface (DHCP by
dnsmasq, beside the site's own server or alone, TFTP, HTTP, syslog), one line per event."""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

from workbench.errors import LabFailure, WorkbenchError
from workbench.lab.events import Transfer
from workbench.lab.faults import FaultPlan, foreign_fault
from workbench.lab.http import HttpServer
from workbench.lab.listen import where
from workbench.lab.pxe import BOOT_FILES, PxeConfig, interface_ipv4
from workbench.lab.tftp import DEFAULT_MAX_SESSIONS, DEFAULT_MAX_WINDOW, TftpServer
from workbench.serve_clients import BootServer, BootServerSettings, check_before_start
from workbench.textsafe import printable

DEFAULT_PORT = 6969
DEFAULT_HTTP_PORT = 8080


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a tree read-only over TFTP (127.0.0.1:6969) or HTTP (--http, :8080)",
        description=(
            "Serve ROOT read-only over TFTP (or HTTP with --http) in the foreground and log each "
            "transfer. Names that leave ROOT ('..', absolute names, symlinks pointing outside) "
            "and all writes (HTTP: every method but GET and HEAD) are refused. Ports below 1024 "
            "on a host interface need root and are used only if you ask for them. ADDR may be "
            "IPv6 (::1). With --pxe: a boot server on one interface of your network (see "
            "docs/serve.md): dnsmasq as ProxyDHCP beside the network's own DHCP server (or a "
            "full DHCP server with --dhcp-range, on a network you own), TFTP on port 69, HTTP "
            "on port 80 with --http, console lines over syslog on port 514; one line per event."
        ),
    )
    parser.add_argument("root", type=Path, metavar="ROOT")
    parser.add_argument("--http", action="store_true",
                        help="serve HTTP instead of TFTP (with --pxe: HTTP on port 80 beside "
                        "TFTP, and answers to UEFI HTTP Boot)")  # fmt: skip
    parser.add_argument("--bind", metavar="ADDR", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, metavar="N", help="default 6969 (TFTP), 8080 (HTTP)")
    parser.add_argument("--max-window", type=int, default=DEFAULT_MAX_WINDOW, metavar="N",
                        help=f"largest RFC 7440 window granted (default {DEFAULT_MAX_WINDOW}; "
                        "1 answers lock-step only)")  # fmt: skip
    parser.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS, metavar="N",
                        help=f"TFTP transfers at once (default {DEFAULT_MAX_SESSIONS}); a request "
                        "beyond them is answered with a 'server busy' error")  # fmt: skip
    pxe = parser.add_argument_group("boot server (--pxe)")
    pxe.add_argument("--pxe", action="store_true",
                     help="serve machines on INTERFACE's network: DHCP boot answers, TFTP, "
                     "HTTP with --http, syslog")  # fmt: skip
    pxe.add_argument("--interface", metavar="IF", help="the interface to serve (required)")
    mode = pxe.add_mutually_exclusive_group()
    mode.add_argument("--proxy-dhcp", action="store_true",
                      help="answer boot requests only, beside the network's DHCP server, "
                      "which hands out the addresses (the default)")  # fmt: skip
    mode.add_argument("--dhcp-range", metavar="FIRST,LAST",
                      help="be the network's DHCP server, handing out FIRST..LAST: only on an "
                      "isolated network you own")  # fmt: skip
    pxe.add_argument("--arch", action="append", choices=sorted(BOOT_FILES), metavar="ARCH",
                     help="architectures offered: x64 (EFI/BOOT/BOOTX64.EFI, the default), "
                     "aa64 (EFI/BOOT/BOOTAA64.EFI); repeat for both")  # fmt: skip
    pxe.add_argument("--no-syslog", action="store_true",
                     help="do not take console lines on UDP port 514")  # fmt: skip
    pxe.add_argument("--json", action="store_true", help="one JSON object per event")
    add_fault_options(parser)
    parser.set_defaults(func=run)


def add_fault_options(container: argparse._ActionsContainer) -> None:
    """The fault options fault_plan() reads; `boot --mode net|http` takes them too."""
    options = (
        (
            "--fail-first",
            "NAME=N",
            "answer the first N requests for NAME with an error (TFTP error 1, HTTP 503)",
        ),
        (
            "--stop-after",
            "NAME=BYTES",
            "stop sending NAME after BYTES (TFTP: the client times "
            "out; HTTP: the connection closes early)",
        ),
        ("--corrupt", "NAME=OFFSET", "flip the byte at OFFSET of NAME as it is sent"),
        ("--drop-every", "NAME=N", "lose every Nth DATA packet of NAME the first time it is sent"),
        (
            "--refuse-option",
            "NAME=OPTION[,OPTION]",
            "TFTP: answer requests for NAME that ask for "
            "OPTION (e.g. windowsize) with TFTP error 8, as an older server does",
        ),
        (
            "--repeat-after",
            "NAME=BYTES",
            "TFTP: once BYTES of NAME are acknowledged, send its last block again every 2 s "
            "and nothing new (a client that re-acknowledges never times out)",
        ),
        ("--http-status", "NAME=CODE", "HTTP: answer every request for NAME with CODE (404...)"),
        ("--stall-after", "NAME=BYTES", "HTTP: send BYTES of NAME, then nothing (a timeout)"),
        ("--no-length", "NAME", "HTTP: send NAME without a Content-Length header"),
        (
            "--trickle-after",
            "NAME=BYTES",
            "HTTP: send BYTES of NAME, then one byte every 2 s (a server too slow to time out)",
        ),
    )
    for flag, metavar, text in options:
        container.add_argument(flag, action="append", default=[], metavar=metavar, help=text)


def parse_assignments(values: list[str], option: str) -> dict[str, int]:
    """`NAME=N` pairs into a dict; a clear error for anything else."""
    parsed: dict[str, int] = {}
    for value in values:
        name, separator, number = value.rpartition("=")
        if not separator or not name:
            raise WorkbenchError(f"{option} {value!r}: expected NAME=NUMBER")
        try:
            parsed[name.lstrip("/")] = int(number, 0)
        except ValueError:
            raise WorkbenchError(f"{option} {value!r}: {number!r} is not a number") from None
        if parsed[name.lstrip("/")] < 0:
            raise WorkbenchError(f"{option} {value!r}: the number must not be negative")
    return parsed


def parse_option_lists(values: list[str]) -> dict[str, str]:
    """`NAME=OPTION[,OPTION]` pairs into a dict; a clear error for anything else."""
    parsed: dict[str, str] = {}
    for value in values:
        name, separator, options = value.rpartition("=")
        if not separator or not name or not options.strip(", "):
            raise WorkbenchError(f"--refuse-option {value!r}: expected NAME=OPTION[,OPTION]")
        parsed[name.lstrip("/")] = options.lower()
    return parsed


def fault_plan(args: argparse.Namespace) -> FaultPlan | None:
    """The --fail-first/--stop-after/--corrupt options as a FaultPlan (None when none given)."""
    plan = FaultPlan(
        fail_first=parse_assignments(args.fail_first, "--fail-first"),
        stop_after=parse_assignments(args.stop_after, "--stop-after"),
        corrupt=parse_assignments(args.corrupt, "--corrupt"),
        drop_every=parse_assignments(args.drop_every, "--drop-every"),
        refuse_options=parse_option_lists(args.refuse_option),
        http_status=parse_assignments(args.http_status, "--http-status"),
        stall_after=parse_assignments(args.stall_after, "--stall-after"),
        no_length=[name.lstrip("/") for name in args.no_length],
        trickle_after=parse_assignments(args.trickle_after, "--trickle-after"),
        repeat_after=parse_assignments(args.repeat_after, "--repeat-after"),
    )
    for name, code in plan.http_status.items():
        if not 100 <= code <= 599:
            raise WorkbenchError(f"--http-status {name}={code}: not an HTTP status (100-599)")
    for name, every in plan.drop_every.items():
        if every < 2:
            raise WorkbenchError(f"--drop-every {name}={every}: N must be 2 or more")
    return plan if plan else None


def describe(event: Transfer) -> str:
    """One log line per transfer event (TFTP and HTTP alike). Names and errors come from the
    network: printed escaped, they cannot forge a line or drive the terminal."""
    size = f"{event.bytes}/{event.total}" if event.total is not None else str(event.bytes)
    line = f"{event.client} {event.state:8} {printable(event.filename)} {size} bytes"
    if event.state == "started" and event.blksize:
        line += f" blksize={event.blksize} window={event.window}"
    if event.state in ("done", "failed"):
        line += f" in {event.seconds:.2f}s"
        if event.retransmits:
            line += f", {event.retransmits} resent"
    if event.error:
        line += f": {printable(event.error)}"
    return line


def run(args: argparse.Namespace) -> int:
    if args.pxe:
        return run_pxe(args)
    for option, given in (("--interface", args.interface), ("--proxy-dhcp", args.proxy_dhcp),
                          ("--dhcp-range", args.dhcp_range), ("--arch", args.arch),
                          ("--json", args.json), ("--no-syslog", args.no_syslog)):  # fmt: skip
        if given:
            raise WorkbenchError(f"{option} belongs to a boot server: add --pxe")
    args.bind = args.bind or "127.0.0.1"
    port = args.port if args.port is not None else DEFAULT_HTTP_PORT if args.http else DEFAULT_PORT
    if not 0 <= port <= 65535:
        raise WorkbenchError(f"--port {port}: not a port number")
    faults = fault_plan(args)
    flag = foreign_fault(faults, "http" if args.http else "tftp") if faults else None
    if flag is not None:
        fix = "serve without --http" if args.http else "serve with --http"
        raise WorkbenchError(f"{flag} is a fault of the other protocol's server ({fix})")

    def log(event: Transfer) -> None:
        print(describe(event), flush=True)

    server: TftpServer | HttpServer
    if args.http:
        server = HttpServer(args.root, bind=args.bind, port=port, faults=faults, on_event=log)
    else:
        server = TftpServer(args.root, bind=args.bind, port=port, faults=faults, on_event=log,
                            max_window=args.max_window,
                            max_sessions=args.max_sessions)  # fmt: skip
    with server:
        address = where(args.bind, server.port)
        shown = f"http://{address}/" if args.http else address
        print(f"serving {args.root} read-only on {shown} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.stop()  # transfers still in flight are logged as aborted first
            print("stopped", flush=True)
    return 0


def parse_dhcp_range(value: str, network: ipaddress.IPv4Network, own: str) -> tuple[str, str]:
    """FIRST,LAST: two addresses of the interface's network, in order, without its own."""
    first, separator, last = value.partition(",")
    try:
        low, high = ipaddress.IPv4Address(first.strip()), ipaddress.IPv4Address(last.strip())
    except ValueError:
        raise WorkbenchError(f"--dhcp-range {value!r}: expected FIRST,LAST (IPv4)") from None
    if not separator or low > high:
        raise WorkbenchError(f"--dhcp-range {value!r}: expected FIRST,LAST with FIRST <= LAST")
    if low not in network or high not in network:
        raise WorkbenchError(f"--dhcp-range {value!r}: outside the interface's network {network}")
    if low <= ipaddress.IPv4Address(own) <= high:
        raise WorkbenchError(f"--dhcp-range {value!r}: holds the interface's own address {own}")
    return str(low), str(high)


def pxe_settings(args: argparse.Namespace) -> BootServerSettings:
    """The boot server the options ask for; one-line errors for what cannot work."""
    if not args.interface:
        raise WorkbenchError("--pxe needs --interface IF (the network to serve)")
    for flag, given in (("--bind", args.bind), ("--port", args.port)):
        if given is not None:
            raise WorkbenchError(f"{flag} does not go with --pxe (it serves on the "
                                 "interface's address, ports 69 and 80)")  # fmt: skip
    faults = fault_plan(args)
    interface = interface_ipv4(args.interface)
    dhcp_range = None
    if args.dhcp_range:
        dhcp_range = parse_dhcp_range(args.dhcp_range, interface.network, interface.address)
    machines = tuple(dict.fromkeys(args.arch or ["x64"]))
    config = PxeConfig(interface, machines, http=args.http, dhcp_range=dhcp_range)
    return BootServerSettings(args.root, config, faults, args.max_window, args.max_sessions,
                              syslog=not args.no_syslog)  # fmt: skip


def stop_on_term(*_: object) -> None:
    raise KeyboardInterrupt


def run_pxe(args: argparse.Namespace) -> int:
    settings = pxe_settings(args)
    check_before_start(settings)
    lock = threading.Lock()

    def output(line: str, record: dict[str, Any]) -> None:
        now = time.time()
        with lock:
            if args.json:
                print(json.dumps({"time": round(now, 3), **record}), flush=True)
            else:
                print(f"{time.strftime('%H:%M:%S', time.localtime(now))} {line}", flush=True)

    # A TERM (a service manager, a test) stops the server as Ctrl-C does: dnsmasq goes too.
    signal.signal(signal.SIGTERM, stop_on_term)
    config = settings.config
    with BootServer(settings, output) as server:
        mode = "ProxyDHCP" if config.proxy else f"DHCP {'-'.join(config.dhcp_range or ())}"
        server.note(f"boot server on {config.interface.name} {config.interface.address}/"
                    f"{config.interface.network.prefixlen}, {mode} (Ctrl-C stops)")  # fmt: skip
        try:
            while server.dnsmasq is not None and server.dnsmasq.exit_reason is None:
                time.sleep(0.2)
        except KeyboardInterrupt:
            server.note("stopping")
            return 0
    raise LabFailure(server.dnsmasq.exit_reason if server.dnsmasq else "dnsmasq ended")
