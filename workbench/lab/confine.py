"""Opening a requested name inside a served tree, for the TFTP and HTTP servers alike.

Open first, then check what was opened: the name is opened under the root, then the path of
the open descriptor (/proc/self/fd) must lie inside the root's real path. A symlink swapped in
between a check and an open cannot escape that way.
"""

from __future__ import annotations

import os
import stat


class Refused(Exception):
    """A name the server will not serve; `state` is the transfer event's state."""

    def __init__(self, state: str, reason: str, not_found: bool = False) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.not_found = not_found


def refusal_reason(name: str) -> str | None:
    """Why a requested name is refused before looking at the disk, or None."""
    if not name or "\0" in name:
        return "empty or invalid name"
    if name.startswith(("/", "\\")):
        return "absolute name"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in name"
    return None


def open_inside_root(real_root: str, name: str) -> int:
    """A read-only descriptor of a regular file inside `real_root`; Refused otherwise."""
    reason = refusal_reason(name)
    if reason is not None:
        raise Refused("refused", reason)
    try:
        fd = os.open(os.path.join(real_root, name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        raise Refused("failed", "not found", not_found=True) from None
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.commonpath([opened, real_root]) != real_root:
            raise Refused("refused", "leaves the served directory")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused("failed", "not found", not_found=True)
    except BaseException:
        os.close(fd)
        raise
    return fd
