"""Opening a requested name inside a served tree, for the TFTP and HTTP servers alike.

Open first, then check what was opened: the name is opened under the root as a bare
reference (O_PATH: nothing is read, a device or FIFO is not opened at all), then the path of
that descriptor (/proc/self/fd) must lie inside the root's real path and it must be a regular
file. Only then is that same file opened for reading, through the descriptor, so a symlink
swapped in between cannot escape and a FIFO cannot hold a server thread. The opened
descriptor is checked once more with fstat.

A file the server may not read is "access denied" (TFTP error 2, HTTP 403), not "not found".
A directory is "not found"; any other kind of file (FIFO, device, socket) is refused.
"""

from __future__ import annotations

import errno
import os
import stat

from workbench.lab.events import TransferState

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}  # fmt: skip


class Refused(Exception):
    """A name the server will not serve; `state` is the transfer event's state."""

    def __init__(self, state: TransferState, reason: str, not_found: bool = False) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.not_found = not_found


def refusal_reason(name: str) -> str | None:
    """Why a requested name is refused before looking at the disk, or None."""
    if not name or "\0" in name:
        return "empty or invalid name"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        return "control character in name"  # the stub never asks for one (FORMAT.md §3)
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
        where = os.open(os.path.join(real_root, name), os.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        raise _refusal(error) from None
    try:
        opened = os.readlink(f"/proc/self/fd/{where}")
        if os.path.commonpath([opened, real_root]) != real_root:
            raise Refused("refused", "leaves the served directory")
        _check_kind(os.fstat(where).st_mode)
        try:
            fd = os.open(f"/proc/self/fd/{where}", os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as error:
            raise _refusal(error) from None
    finally:
        os.close(where)
    try:
        _check_kind(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_kind(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise Refused("failed", "not found", not_found=True)
    kind = _KINDS.get(stat.S_IFMT(mode), "an unknown kind")
    raise Refused("refused", f"not a regular file ({kind})")


def _refusal(error: OSError) -> Refused:
    if error.errno in (errno.EACCES, errno.EPERM):
        return Refused("refused", "access denied")
    return Refused("failed", "not found", not_found=True)
