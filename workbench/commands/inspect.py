"""`workbench inspect FILE [--json]`: what a stub carries and what it will do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench import sbat
from workbench.pe.image import PeImage
from workbench.stubinfo import FileRef, StubInfo, describe, to_json

VALUE_WIDTH = 60


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a stub's flavour, files, command line and sections",
        description="Show what a stub (ours, lanzaboote, a UKI or any EFI application) carries.",
    )
    parser.add_argument("file", type=Path, help="the PE file to inspect")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--sbat-level",
        metavar="LEVEL",
        help="say whether shim would start it under this SBAT level: rows NAME,GENERATION "
        "separated by spaces, or @FILE (an SbatLevel as shim stores it)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    level = sbat.parse_level(sbat.level_text(args.sbat_level)) if args.sbat_level else None
    with PeImage.open(args.file) as image:
        info = describe(image)
        verdict = sbat.check_image(image, level) if level is not None else None
        if args.json:
            data = to_json(info, image)
            if verdict is not None:
                data["sbat_level"] = {"passes": verdict.passes, "reason": verdict.reason}
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            lines = human_lines(info, image)
            if verdict is not None:
                lines.insert(_after_sbat(lines), f"sbat lvl:  {sbat.verdict_line(verdict)}")
            print("\n".join(lines))
    return 0


def _after_sbat(lines: list[str]) -> int:
    """Where the SBAT verdict goes: after the `sbat:` rows, or before `signed:`."""
    rows = [index for index, line in enumerate(lines) if line.startswith(("sbat:", "signed:"))]
    return rows[-1] + 1 if lines[rows[-1]].startswith("sbat:") else rows[-1]


def _file_line(ref: FileRef | None) -> str:
    if ref is None:
        return "-"
    where = ref.path if ref.path is not None else f"embedded, {ref.embedded_size} bytes"
    digest = f"sha256 {ref.expected_sha256}" if ref.expected_sha256 else "no sha256"
    problem = f" ({ref.hash_problem})" if ref.hash_problem else ""
    return f"{where}  {digest}{problem}"


def _shorten(text: str) -> str:
    flat = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return flat if len(flat) <= VALUE_WIDTH else flat[: VALUE_WIDTH - 3] + "..."


def human_lines(info: StubInfo, image: PeImage) -> list[str]:
    kernel_arch = info.kernel.arch if info.kernel is not None else None
    lines = [
        f"file:      {image.path}",
        f"flavour:   {info.flavour}" + (f" ({info.marker})" if info.marker else ""),
        f"arch:      {info.arch} stub" + (f", {kernel_arch} kernel" if kernel_arch else ""),
        f"kernel:    {_file_line(info.kernel)}",
        f"initrd:    {_file_line(info.initrd)}",
        f"cmdline:   {_quoted(info.cmdline)}",
    ]
    if info.osrel:
        name = info.osrel.get("PRETTY_NAME") or info.osrel.get("NAME") or info.osrel.get("ID", "?")
        lines.append(f"os:        {name}")
    if info.uname:
        lines.append(f"uname:     {info.uname}")
    if info.policy:
        lines.append("policy:    " + " ".join(f"{k}={v}" for k, v in info.policy.items()))
    for row in info.sbat:
        lines.append(f"sbat:      {','.join(row)}")
    for name, size in info.sizes.items():
        lines.append(f"{name + ':':<10} {size} bytes")
    if info.signature is not None:
        signature = info.signature
        lines.append(
            f"signed:    yes, {signature.digest_algorithm}, subject {signature.subject!r}, "
            f"issuer {signature.issuer!r}"
        )
    else:
        lines.append(f"signed:    {'yes (unreadable)' if info.signed else 'no'}")
    lines.append("sections:")
    lines.append(f"  {'name':<9} {'vaddr':>10} {'vsize':>10} {'raw':>10}  {'sha256':<16}  value")
    for section in info.sections:
        lines.append(
            f"  {section.name:<9} {section.virtual_address:#10x} {section.virtual_size:#10x} "
            f"{section.raw_size:#10x}  {section.sha256[:16]}  {_shorten(section.value)}"
        )
    for profile in info.profiles:
        what = "base:" if profile.index == 0 else f"profile {profile.index}:"
        parts = [f"ID={profile.id}" if profile.id else "",
                 f"TITLE={profile.title!r}" if profile.title else "",
                 " ".join(profile.sections)]  # fmt: skip
        lines.append(f"{what:<10} " + "  ".join(part for part in parts if part))
    if info.pcr_policy is not None:
        policy = info.pcr_policy
        key = policy.key_fingerprint[:16] + "..." if policy.key_fingerprint else "no .pcrpkey"
        banks = ", ".join(f"{s.bank} pcrs {s.pcrs} {'key ok' if s.matches_key else 'key ?'}"
                          for s in policy.signatures) or "no signatures"  # fmt: skip
        lines.append(f"pcr sig:   key {key}; {banks}")
    for warning in info.warnings:
        lines.append(f"warning:   {warning}")
    return lines


def _quoted(text: str | None) -> str:
    return "-" if text is None else json.dumps(text, ensure_ascii=False)
