"""Where the lab's servers listen: IPv4 or IPv6 by the address's form, and how they say so."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from workbench.errors import WorkbenchError


def address_family(bind: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in bind else socket.AF_INET


def where(bind: str, port: int) -> str:
    """`10.0.2.2:69` or `[fd00::2]:69`."""
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def cannot_serve(protocol: str, bind: str, port: int, error: OSError) -> WorkbenchError:
    """The one-line error for a server that cannot listen (a busy port, a foreign address)."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        reason = "port already in use"
    return WorkbenchError(f"cannot serve {protocol} on {where(bind, port)}: {reason}")


# -- who holds a port (read from /proc, for a one-line refusal before anything starts) ---------

_TCP_LISTEN = "0A"
_WILDCARDS = ("0.0.0.0", "::")


def bound_udp(protocol: str, bind: str, port: int, receive_buffer: int | None = None
              ) -> socket.socket:  # fmt: skip
    """A UDP socket bound to BIND:PORT (IPv4 or IPv6 by the address), or the one-line error
    that names who holds the port."""
    sock = socket.socket(address_family(bind), socket.SOCK_DGRAM)
    try:
        if receive_buffer is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.bind((bind, port))
    except OSError as error:
        sock.close()
        raise cannot_serve(protocol, bind, port, error) from None
    return sock


def _decode_address(hex_address: str) -> str:
    """/proc/net's address: IPv4 as one little-endian word, IPv6 as four of them."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    text = socket.inet_ntop(socket.AF_INET6, words)
    return text.removeprefix("::ffff:") if text.startswith("::ffff:") and "." in text else text


def socket_inodes(protocol: str, port: int, address: str | None = None,
                  proc_net: Path = Path("/proc/net")) -> set[int]:  # fmt: skip
    """Inodes of the sockets bound to `port` (TCP: listening) on `address` or a wildcard."""
    inodes: set[int] = set()
    for table in (protocol, protocol + "6"):
        try:
            lines = (proc_net / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_address, _, local_port = fields[1].partition(":")
            if int(local_port, 16) != port:
                continue
            if protocol == "tcp" and fields[3] != _TCP_LISTEN:
                continue
            bound = _decode_address(local_address)
            if address is None or bound in _WILDCARDS or bound == address:
                inodes.add(int(fields[9]))
    return inodes


def socket_owners(inodes: set[int], proc: Path = Path("/proc")) -> list[str]:
    """'name (pid N)' of each process holding one of the sockets (those we may look at)."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    owners: list[str] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            held = any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir())
            name = (entry / "comm").read_text().strip() if held else ""
        except OSError:
            continue
        if held:
            owners.append(f"{name} (pid {entry.name})")
    return owners


def port_holder(protocol: str, port: int, address: str | None = None) -> str | None:
    """Who holds `protocol` `port` on `address` (or on every address), in words; None: free."""
    inodes = socket_inodes(protocol, port, address)
    if not inodes:
        return None
    owners = socket_owners(inodes)
    return ", ".join(owners) if owners else "a process this user cannot see"
