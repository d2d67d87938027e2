"""`workbench open STUB`: the interactive workbench on one stub."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.errors import WorkbenchError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "open",
        help="inspect, edit, preview and boot a stub interactively",
        description=(
            "Open the interactive workbench on STUB. ROOT (the ESP tree that is also served over "
            "TFTP) defaults to the stub's own tree when STUB sits at ROOT/EFI/BOOT/BOOTX64.EFI."
        ),
    )
    parser.add_argument("stub", type=Path, metavar="STUB", help="the stub (a PE file)")
    parser.add_argument("--root", type=Path, help="the tree to preview and boot")
    parser.add_argument("--keys", type=Path, metavar="KEYDIR", help="db.key + db.pem for signing")
    parser.add_argument(
        "--expect",
        metavar="TEXT",
        help="a boot counts as booted when TEXT shows on the serial console "
        "(default: the kernel starts and the machine powers off)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="boot timeout in seconds")
    parser.add_argument(
        "--compare", type=Path, metavar="OTHER", help="a Compare tab: STUB against OTHER, as diff"
    )
    parser.add_argument(
        "--log", type=Path, metavar="FILE",
        help="a Log tab: a console log from any machine explained, as `workbench explain`",
    )  # fmt: skip
    parser.add_argument(
        "--tpm", action="store_true", help="boots get a TPM 2.0 (swtpm) and check PCR 11"
    )
    parser.add_argument(
        "--serve", metavar="IF",
        help="a Serve tab: ROOT served on interface IF of your own network as `workbench serve "
        "ROOT --pxe --http --interface IF` does (ProxyDHCP), a row per machine",
    )  # fmt: skip
    parser.add_argument(
        "--guests", type=int, default=1, metavar="N",
        help="n and h netboot N guests at once in one lab, shown side by side in a Guests tab",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.root is not None and not args.root.is_dir():
        raise WorkbenchError(f"root {args.root}: not a directory")
    if args.keys is not None and not args.keys.is_dir():
        raise WorkbenchError(f"keys {args.keys}: not a directory")
    # Imported here: the other commands start without loading Textual.
    from workbench.tui.app import WorkbenchApp

    if args.compare is not None and not args.compare.is_file():
        raise WorkbenchError(f"compare {args.compare}: no such file")
    if args.log is not None and not args.log.is_file():
        raise WorkbenchError(f"log {args.log}: no such file")
    if not 1 <= args.guests <= 16:
        raise WorkbenchError("--guests takes 1 to 16")
    if args.serve is not None and not args.serve:
        raise WorkbenchError("--serve needs an interface name")
    app = WorkbenchApp(
        args.stub,
        root=args.root,
        keys=args.keys,
        expect=args.expect,
        boot_timeout=args.timeout,
        compare=args.compare,
        tpm=args.tpm,
        log=args.log,
        serve=args.serve,
        guests=args.guests,
    )
    app.run()
    return 0
