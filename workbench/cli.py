"""`workbench` command line: one subcommand module per command under workbench.commands."""

from __future__ import annotations

import argparse
import importlib
import sys

from workbench import __version__
from workbench.errors import WorkbenchError

# Each module defines `register(subparsers)`, which adds its parser and sets `func`.
COMMAND_MODULES = (
    "open",
    "inspect",
    "diff",
    "extract",
    "set",
    "build",
    "boot",
    "debug",
    "serve",
    "preview",
    "explain",
    "pcrs",
    "sign",
    "keys",
)


# One example per command, shown at the end of its --help.
EXAMPLES = {
    "open": "workbench open esp/EFI/BOOT/BOOTX64.EFI --root esp --keys keys/",
    "inspect": "workbench inspect esp/EFI/BOOT/BOOTX64.EFI --json",
    "diff": "workbench diff old/BOOTX64.EFI new/BOOTX64.EFI --root esp/",
    "extract": "workbench extract uki.efi .linux -o vmlinuz",
    "set": "workbench set esp/EFI/BOOT/BOOTX64.EFI --cmdline 'console=ttyS0 quiet' --rehash esp",
    "build": "workbench build --kernel vmlinuz --initrd initrd.img --cmdline 'console=ttyS0' "
    "--out-dir esp",
    "boot": "workbench boot esp --mode http --expect 'login:' --http-status EFI/Linux/vmlinuz=404",
    "serve": "workbench serve esp --http --bind ::1 --stall-after EFI/Linux/vmlinuz=1000000",
    "preview": "workbench preview esp/EFI/BOOT/BOOTX64.EFI --root esp",
    "explain": "workbench explain serial.log --root esp --json",
    "pcrs": "workbench pcrs esp/EFI/BOOT/BOOTX64.EFI --bank sha256 --bank sha384 --json",
    "sign": "workbench sign esp/EFI/BOOT/BOOTX64.EFI --keys keys/",
    "verify": "workbench verify esp/EFI/BOOT/BOOTX64.EFI --keys keys/",
    "keys": "workbench keys init keys/ && workbench keys show keys/",
}


def version_text() -> str:
    """The workbench's version, and the stubs `build` uses, one per architecture: where each
    is, its marker, its hash."""
    from workbench.arch import ARCHES
    from workbench.builder import default_stub, file_sha256
    from workbench.pe.image import PeImage

    lines = [f"workbench {__version__}"]
    for arch in ARCHES:
        try:
            stub = default_stub(arch)
            with PeImage.open(stub) as image:
                section = image.section(".wbstub")
                marker = image.section_data(section).decode() if section else "?"
            digest = file_sha256(stub).hex()[:16]
            lines.append(f"stub ({arch.name}): {marker} at {stub} (sha256 {digest}...)")
        except WorkbenchError as error:
            lines.append(f"stub ({arch.name}): none ({error})")
    return "\n".join(lines)


class VersionAction(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Inspect, edit, preview and live-boot UEFI Linux boot stubs.",
    )
    parser.add_argument(
        "--version", action=VersionAction, nargs=0, help="the version, and which stub it uses"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"workbench.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"workbench.commands.{name}":
                raise
            continue
        module.register(subparsers)
    for name, command in subparsers.choices.items():
        if name in EXAMPLES and not command.epilog:
            command.epilog = f"example: {EXAMPLES[name]}"
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as error:
        # Bad input keeps the plain form; other kinds say what they are.
        label = "error" if error.exit_code == 2 else error.kind
        print(f"workbench: {label}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
