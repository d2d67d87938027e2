"""Where the lab's servers listen: IPv4 or IPv6 by the address's form, and how they say so."""

from __future__ import annotations

import errno
import socket

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
