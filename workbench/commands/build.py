"""`workbench build`: our stub plus kernel, initrd and command line into an ESP / netboot tree."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.arch import NAMES, by_name
from workbench.builder import build_tree
from workbench.errors import WorkbenchError
from workbench.stubinfo import parse_policy_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a boot tree: EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI (+ EFI/Linux/*)",
        description="Build ROOT/EFI/BOOT/BOOTX64.EFI (x86_64) or BOOTAA64.EFI (arm64) from the "
        "stub of the kernel's architecture, and for a thin stub copy the kernel and initrd to "
        "ROOT/EFI/Linux with their SHA-256 in the stub. A stub and a kernel of different "
        "architectures are refused (exit 2).",
    )
    parser.add_argument("--kernel", required=True, type=Path, help="kernel image (EFI stub)")
    parser.add_argument("--initrd", type=Path, help="initramfs (optional)")
    parser.add_argument("--cmdline", default="", help="kernel command line")
    parser.add_argument("--out-dir", required=True, type=Path, help="tree root to write")
    parser.add_argument("--fat", action="store_true", help="embed kernel and initrd in the stub")
    parser.add_argument(
        "--stub",
        type=Path,
        help="base stub (default: the packaged stub of the kernel's architecture)",
    )
    parser.add_argument("--arch", choices=NAMES,
                        help="the architecture, for a kernel that does not say (default: the "
                        "kernel's, else x86_64)")  # fmt: skip
    parser.add_argument(
        "--policy", action="append", default=[], metavar="KEY=VALUE",
        help="policy: on-error=reset|halt|exit, error-delay=N, source=auto|local|net|http, "
        "tftp-blksize=N, tftp-window=N, fetch-timeout=SECONDS, net-stack=own|firmware, log=on|off",
    )  # fmt: skip
    parser.add_argument("--osrel", type=Path, metavar="FILE", help="os-release text to embed")
    parser.add_argument("--kernel-name", help="file name of the kernel in EFI/Linux")
    parser.add_argument("--initrd-name", help="file name of the initrd in EFI/Linux")
    parser.add_argument("--sign", type=Path, metavar="KEYDIR", help="sign with KEYDIR/db.key")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    policy = dict(parse_policy_argument(item) for item in args.policy)
    osrel = None
    if args.osrel is not None:
        try:
            osrel = args.osrel.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise WorkbenchError(f"cannot read os-release {args.osrel}: {error}") from None
    result = build_tree(
        stub=args.stub,
        arch=by_name(args.arch) if args.arch else None,
        kernel=args.kernel,
        initrd=args.initrd,
        cmdline=args.cmdline,
        out_dir=args.out_dir,
        fat=args.fat,
        policy=policy or None,
        osrel=osrel,
        kernel_name=args.kernel_name,
        initrd_name=args.initrd_name,
        sign_keys=args.sign,
    )
    written = [p for p in (result.stub_path, result.kernel_path, result.initrd_path) if p]
    for path in written:
        print(f"wrote {path}")
    for path in written:
        warning = private_file_warning(path)
        if warning:
            print(f"workbench: warning: {warning}", file=sys.stderr)
    return 0


def private_file_warning(path: Path) -> str | None:
    """A file others cannot read is one dnsmasq's TFTP refuses ("access denied") and servers
    running as nobody (atftpd, nginx) cannot send: say so, since netboot is the point."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o004:
        return None
    return (f"{path} is not readable by others (mode {mode:04o}): dnsmasq's TFTP and servers "
            f"running as nobody will refuse it; 'chmod a+r' it to serve the tree")  # fmt: skip
