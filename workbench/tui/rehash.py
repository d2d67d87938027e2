"""Glue between the Edit pane and the preview service: new hashes from ROOT, and the problems
the preview predicts, phrased for the overview."""

from __future__ import annotations

from pathlib import Path

from workbench.edits import hash_under_root
from workbench.errors import BadInput
from workbench.preview import Preview
from workbench.tui.editing import EditSession, Field

# IPv6 differs from IPv4 only in the server's address: its problems would say the same twice.
MODE_LABELS = {"local": "local", "net": "netboot", "http": "http"}

PAIRS = ((Field.KERNEL_PATH, Field.KERNEL_HASH), (Field.INITRD_PATH, Field.INITRD_HASH))


def hashes_from_root(session: EditSession, root: Path) -> dict[Field, str]:
    """The SHA-256 of each file the (edited) paths name under ROOT, found like the firmware does."""
    values: dict[Field, str] = {}
    for path_field, hash_field in PAIRS:
        if hash_field not in session.editable or path_field not in session.editable:
            continue
        text = session.values[path_field]
        if not text:
            continue
        role = "kernel" if path_field == Field.KERNEL_PATH else "initrd"
        values[hash_field] = hash_under_root(root, role, text).hex()
    if not values:
        raise BadInput("this stub has no file paths to rehash")
    return values


def preview_problems(preview: Preview) -> list[str]:
    """What the preview says will go wrong, local boot first, then each network boot."""
    problems: list[str] = []
    for mode in (preview.local, preview.net, preview.http):
        label = MODE_LABELS[mode.mode]
        problems += [f"{label}: {item.note}" for item in mode.files if item.note]
        if not mode.files and mode.reason:
            problems.append(f"{label}: {mode.reason}")
    return problems
