"""Small text helpers shared by the panes: sizes, short paths, hex dumps."""

from __future__ import annotations

import os
from pathlib import Path

HEX_DUMP_LIMIT = 4096
TEXT_LIMIT = 64 * 1024  # a section larger than this is shown as hex


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def short_path(path: Path | str | None) -> str:
    """Relative to the working directory when below it: shorter, and free of temp prefixes."""
    if path is None:
        return "-"
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
    except OSError:
        return os.fspath(path)


def visible(text: str) -> str:
    """Control characters (a console line may carry escape sequences) as `\\xNN`, the rest as
    it is: shown in a widget, the text can neither move the cursor nor recolour the screen."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def hex_dump(data: bytes, limit: int = HEX_DUMP_LIMIT, total: int | None = None) -> str:
    """Classic 16-bytes-a-line dump of at most `limit` bytes, with a note when cut. `total`:
    the whole size when `data` is only the head of it."""
    total = len(data) if total is None else total
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  {text_part}")
    shown = min(len(data), limit)
    if total > shown:
        lines.append(f"... {total - shown} more bytes")
    if not data:
        lines.append("(empty)")
    return "\n".join(lines)


def looks_like_text(data: bytes) -> bool:
    """UTF-8 without control characters other than tab and newlines."""
    if not data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\t\r\n" for char in text.rstrip("\0"))


def decode_section(name: str, data: bytes, total: int | None = None) -> tuple[str, str]:
    """(kind, rendering) of a section's bytes: "text", "sha256" or "hex". `data` may be the
    head of a bigger section of `total` bytes: that is always shown as hex."""
    total = len(data) if total is None else total
    if total == len(data) == 32 and name.endswith("h") and not looks_like_text(data):
        return "sha256", data.hex()
    if total == len(data) and total <= TEXT_LIMIT and looks_like_text(data):
        return "text", data.decode("utf-8").rstrip("\0")
    return "hex", hex_dump(data, total=total)
