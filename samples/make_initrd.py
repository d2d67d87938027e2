"""Write the sample initramfs: a newc cpio archive with busybox and our /init.

Written in Python so that /dev/console can be a device node without root.
"""

from __future__ import annotations

import argparse
import gzip
import os
import stat
from pathlib import Path

S_IFCHR = stat.S_IFCHR


def _entry(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> bytes:
    encoded = name.encode() + b"\0"
    fields = [
        0,  # inode
        mode,
        0,  # uid
        0,  # gid
        1,  # nlink
        0,  # mtime: fixed for reproducible archives
        len(data),
        0,
        0,  # dev major/minor
        rdev[0],
        rdev[1],
        len(encoded),
        0,  # check
    ]
    header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def build_initrd(busybox: Path, init_script: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """Return the uncompressed cpio archive."""
    parts = [
        _entry("dev", stat.S_IFDIR | 0o755),
        _entry("dev/console", S_IFCHR | 0o600, rdev=(5, 1)),
        _entry("bin", stat.S_IFDIR | 0o755),
        _entry("proc", stat.S_IFDIR | 0o755),
        _entry("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
        _entry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        _entry("init", stat.S_IFREG | 0o755, init_script.read_bytes()),
    ]
    for name, data in sorted((extra or {}).items()):
        parts.append(_entry(name, stat.S_IFREG | 0o644, data))
    parts.append(_entry("TRAILER!!!", 0))
    return b"".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--busybox", type=Path, default=Path("/bin/busybox"))
    parser.add_argument("--init", type=Path, required=True)
    parser.add_argument("--pad-mib", type=int, default=0, help="add an incompressible file")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    extra = {"padding.bin": os.urandom(args.pad_mib << 20)} if args.pad_mib else None
    archive = build_initrd(args.busybox, args.init, extra)
    data = archive if args.pad_mib else gzip.compress(archive, mtime=0)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(args.output)


if __name__ == "__main__":
    main()
