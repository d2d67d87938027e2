"""atomic_write(): every file the workbench writes, written beside its target and renamed over it.

Modes follow `cp` and editors. A new file is created with 0666, or with a copied source's mode
bits, and the kernel takes the umask (or the directory's default ACL) off, as it does for cp: a
tree is world-readable under the usual umask 022, so servers running as another user (dnsmasq's
TFTP as root serves only world-readable files) can serve it. Replacing a file keeps its mode
(and, where allowed, its owner and group), as editors do. An explicit mode (a private key's
0600) wins over both. A failure leaves the target as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WorkbenchError

_NAME_ATTEMPTS = 100


@contextlib.contextmanager
def atomic_write(
    target: Path, *, like: Path | None = None, mode: int | None = None
) -> Iterator[Path]:
    """Yield an empty temporary file beside `target`; write it (in place, by path or by a tool),
    and on a normal exit it replaces `target`. `like`: the file this one copies (its mode bits
    are used for a new target, as cp does)."""
    target = Path(target)
    try:
        existing = _existing(target)
        kept = existing.st_mode if existing is not None else None
        if mode is not None:
            kept = mode
        temporary, handle = _create_beside(target, 0o600 if kept is not None else _new_mode(like))
    except OSError as error:
        raise WorkbenchError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        try:
            # The mode the kernel gave a new file (umask applied) is what the target gets,
            # even if a tool writing the temporary file recreates it.
            final = stat.S_IMODE(kept if kept is not None else os.fstat(handle).st_mode)
        finally:
            os.close(handle)
        yield temporary
        if existing is not None and mode is None:
            _keep_owner(temporary, existing)
        os.chmod(temporary, final)
        _fsync(temporary)
        os.replace(temporary, target)
        _fsync_directory(target.parent)
    except OSError as error:
        raise WorkbenchError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(target: Path, data: bytes, *, mode: int | None = None) -> None:
    with atomic_write(target, mode=mode) as temporary, open(temporary, "wb") as output:
        output.write(data)


def _existing(target: Path) -> os.stat_result | None:
    """The regular file being replaced (through a symlink, as editors do), if any. A rename
    over a device, a FIFO or a directory (`-o /dev/null` as root) would replace it: refused."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        raise WorkbenchError(f"cannot write {target}: not a regular file")
    return status


def _new_mode(like: Path | None) -> int:
    return 0o666 if like is None else stat.S_IMODE(os.stat(like).st_mode) & 0o777


def _create_beside(target: Path, mode: int) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(_NAME_ATTEMPTS):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return candidate, os.open(candidate, flags, mode)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _keep_owner(path: Path, existing: os.stat_result) -> None:
    """A kept 0640 means little if the group changes. Only root may give the file away; anyone
    may keep a group they belong to; otherwise the new file stays the writer's."""
    with contextlib.suppress(PermissionError):
        os.chown(path, existing.st_uid, existing.st_gid)


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_directory(directory: Path) -> None:
    # The rename is done; a file system that cannot sync a directory does not undo it.
    with contextlib.suppress(OSError):
        _fsync(directory)
