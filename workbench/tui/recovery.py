"""Unsaved edits kept when the terminal goes away: a script that applies them with `set`.

Closing the terminal ends the app with SIGHUP and no chance to ask. The edits are then written
next to the stub as `STUB.unsaved-edits.sh` (in the temporary directory when that one is not
writable): a `workbench set` command line, so nothing is lost and nothing is applied unasked.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from pathlib import Path

from workbench.tui.editing import EditSession

SUFFIX = ".unsaved-edits.sh"


def workbench_command() -> str:
    """The `workbench` this app came with (a venv is often not on PATH), else the one on PATH."""
    beside = Path(sys.executable).parent / "workbench"
    return str(beside) if beside.is_file() else "workbench"


def recovery_script(stub: Path, session: EditSession, signed: bool) -> str:
    options = []
    for name in session.dirty_fields:
        options += [f"--{name.replace('_', '-')}", session.values[name]]
    command = shlex.join([workbench_command(), "set", str(stub), *options])
    lines = [
        "#!/bin/sh",
        f"# Unsaved edits of {stub}, kept when its terminal closed"
        f" ({time.strftime('%Y-%m-%d %H:%M:%S')}).",
        "# To apply them, run this file with sh: workbench set replaces the stub atomically.",
    ]
    if signed:
        lines.append("# The stub is signed: add --sign KEYDIR or --drop-signature.")
    return "\n".join([*lines, f"exec {command}", ""])


def write_recovery(stub: Path, session: EditSession, signed: bool) -> Path | None:
    """Where the script went; None when no directory took it."""
    stub = stub.resolve()
    text = recovery_script(stub, session, signed)
    for directory in (stub.parent, Path(tempfile.gettempdir())):
        target = directory / (stub.name + SUFFIX)
        try:
            target.write_text(text)
        except OSError:
            continue
        return target
    return None
