"""Unsaved edits kept when the terminal goes away: a script that applies them with `set`.

Closing the terminal ends the app with SIGHUP and no chance to ask. The edits are then written
next to the stub as `STUB.unsaved-edits.sh` (in the temporary directory when that one is not
writable): a `workbench set` command line, so nothing is lost and nothing is applied unasked.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from workbench.atomic_write import write_bytes_atomic
from workbench.errors import WorkbenchError
from workbench.textsafe import printable
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
        f"# Unsaved edits of {printable(str(stub))}, kept when its terminal closed"
        f" ({time.strftime('%Y-%m-%d %H:%M:%S')}).",
        "# To apply them, run this file with sh: workbench set replaces the stub atomically.",
    ]
    if signed:
        lines.append("# The stub is signed: add --sign KEYDIR or --drop-signature.")
    return "\n".join([*lines, f"exec {command}", ""])


def write_recovery(stub: Path, session: EditSession, signed: bool) -> Path | None:
    """Where the script went; None when no directory took it."""
    stub = stub.resolve()
    data = recovery_script(stub, session, signed).encode()
    try:
        target = stub.parent / (stub.name + SUFFIX)
        write_bytes_atomic(target, data)
        return target
    except (OSError, WorkbenchError):
        pass
    # A shared directory: a name of our own (never one somebody else laid out for us).
    try:
        fd, name = tempfile.mkstemp(prefix=f"{stub.name}.", suffix=SUFFIX)
        with os.fdopen(fd, "wb") as output:
            output.write(data)
        return Path(name)
    except OSError:
        return None
