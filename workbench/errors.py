"""The errors the workbench explains in one line, by kind: the CLI's exit code and the TUI's
label follow the kind.

| class | kind | exit code |
|---|---|---|
| BadInput | bad input (a malformed file, a wrong value, a missing file or directory) | 2 |
| MissingTool | a program or firmware file the work needs is not installed | 3 |
| LabFailure | the lab itself broke (network namespace, DHCP, TFTP, QEMU) | 4 |
| InternalError | a bug of ours (a layout that does not read back) | 70 |
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem explained in one line. Raised as such, it counts as bad input."""

    kind = "bad input"
    exit_code = 2


class BadInput(WorkbenchError):
    """The user's input or files: malformed, missing, out of range."""


class MissingTool(WorkbenchError):
    """A program or firmware file is not installed (`make setup` installs them)."""

    kind = "missing tool"
    exit_code = 3


class LabFailure(WorkbenchError):
    """The lab broke: namespace, DHCP, TFTP server or QEMU could not run."""

    kind = "lab failure"
    exit_code = 4


class InternalError(WorkbenchError):
    """Something the workbench got wrong itself; worth a bug report."""

    kind = "internal error"
    exit_code = 70
