"""A small UDP syslog receiver: RFC 5424 and RFC 3164 datagrams in, one `SyslogLine` each out.

The stub sends its console lines this way when it was netbooted (stub/FORMAT.md, "Console
lines over syslog"); any other device on the lab's or a site's network may send too, so every
datagram is hostile until parsed: a bad one is counted and dropped, never raised, and every
field is bounded. Text fields come out with non-printable characters written as `\\xNN` (as
the stub's console lines write them), so a line printed from here cannot forge another line
or drive the operator's terminal; backslashes are kept, since the stub's own lines hold paths
such as `\\EFI\\Linux\\vmlinuz`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from workbench.lab.listen import bound_udp
from workbench.textsafe import printable

MAX_DATAGRAM = 8192  # RFC 5424 asks receivers to take 2048 octets and allows more
MAX_HOSTNAME = 255  # RFC 5424 section 6.2.4
MAX_APP_NAME = 48  # RFC 5424 section 6.2.5
MAX_PROCID = 128
MAX_MSGID = 32
POLL_SECONDS = 0.1
RECEIVE_BUFFER = 1 << 20  # a boot storm sends lines in bursts; the kernel keeps them meanwhile

_BOM = b"\xef\xbb\xbf"
# RFC 3164's TIMESTAMP: "Mmm dd hh:mm:ss" with a space-padded day.
_BSD_TIMESTAMP = re.compile(rb"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ")
# RFC 3164's TAG (often longer than its 32 characters in practice) with an optional [pid].
_BSD_TAG = re.compile(rb"([!-9;-Z^-~]{1,%d})(?:\[[^\]\s]{0,%d}\])?: ?" % (MAX_APP_NAME, MAX_PROCID))


@dataclass(frozen=True)
class SyslogLine:
    """One received message. `hostname` is the sender's address when the message names none."""

    source: str  # the sender's IP address
    hostname: str
    app: str  # APP-NAME (RFC 5424) or TAG (RFC 3164); "" when there is none
    severity: int  # 0 emergency .. 7 debug
    text: str
    facility: int = 1  # 1 is user-level
    msgid: str = ""  # RFC 5424 MSGID; "" for NILVALUE and RFC 3164


class BadMessage(ValueError):
    """A datagram that is not a syslog message; the reason is one short phrase."""


def escape_text(raw: bytes) -> str:
    """UTF-8 `raw` (undecodable bytes included) with non-printable characters as `\\xNN`."""
    return printable(raw.decode("utf-8", "surrogateescape"), escape_backslash=False)


def _priority(data: bytes) -> tuple[int, int]:
    """PRI ("<0>".."<191>", no leading zeros) -> (value, length of the PRI part)."""
    end = data.find(b">", 1, 5)
    if not data.startswith(b"<") or end < 2:
        raise BadMessage("no <PRI>")
    digits = data[1:end]
    if not digits.isdigit() or (len(digits) > 1 and digits.startswith(b"0")):
        raise BadMessage("bad <PRI>")
    value = int(digits)
    if value > 191:
        raise BadMessage("PRI out of range")
    return value, end + 1


def _header_field(rest: bytes, limit: int, what: str) -> tuple[bytes, bytes]:
    """One space-terminated RFC 5424 header field of printable US-ASCII, and what follows it."""
    field, space, after = rest.partition(b" ")
    if not space:
        raise BadMessage(f"message ends in the {what}")
    if not field or len(field) > limit or not all(33 <= octet <= 126 for octet in field):
        raise BadMessage(f"bad {what}")
    return field, after


def _skip_structured_data(rest: bytes) -> bytes:
    """What follows STRUCTURED-DATA: "-" or one or more [SD-ID param="value" ...] elements."""
    if rest.startswith(b"-"):
        return rest[1:]
    if not rest.startswith(b"["):
        raise BadMessage("bad STRUCTURED-DATA")
    at = 0
    while at < len(rest) and rest[at : at + 1] == b"[":
        at += 1
        quoted = False
        while True:
            if at >= len(rest):
                raise BadMessage("STRUCTURED-DATA not closed")
            octet = rest[at]
            if quoted and octet == 0x5C:  # backslash: the next octet is escaped
                at += 2
                continue
            at += 1
            if octet == 0x22:
                quoted = not quoted
            elif octet == 0x5D and not quoted:
                break
    return rest[at:]


def _message_text(raw: bytes) -> str:
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    return escape_text(raw.rstrip(b"\r\n\x00"))


def _parse_5424(rest: bytes, source: str, pri: int) -> SyslogLine:
    _, rest = _header_field(rest, 64, "TIMESTAMP")
    hostname, rest = _header_field(rest, MAX_HOSTNAME, "HOSTNAME")
    app, rest = _header_field(rest, MAX_APP_NAME, "APP-NAME")
    _, rest = _header_field(rest, MAX_PROCID, "PROCID")
    msgid, rest = _header_field(rest, MAX_MSGID, "MSGID")
    rest = _skip_structured_data(rest)
    if rest and not rest.startswith(b" "):
        raise BadMessage("no space before MSG")
    return SyslogLine(
        source=source,
        hostname=source if hostname == b"-" else hostname.decode("ascii"),
        app="" if app == b"-" else app.decode("ascii"),
        severity=pri & 7,
        text=_message_text(rest[1:]),
        facility=pri >> 3,
        msgid="" if msgid == b"-" else msgid.decode("ascii"),
    )


def _parse_3164(rest: bytes, source: str, pri: int) -> SyslogLine:
    """RFC 3164 as senders write it: the timestamp and hostname may be missing, so may the tag."""
    hostname = source
    stamp = _BSD_TIMESTAMP.match(rest)
    if stamp:
        rest = rest[stamp.end() :]
        host, space, after = rest.partition(b" ")
        # After a timestamp comes the hostname, unless the tag follows at once ("host: msg").
        printable = all(33 <= octet <= 126 for octet in host)
        if space and host and printable and len(host) <= MAX_HOSTNAME and not host.endswith(b":"):
            hostname, rest = host.decode("ascii"), after
    app = ""
    tag = _BSD_TAG.match(rest)
    if tag:
        app, rest = tag.group(1).decode("ascii"), rest[tag.end() :]
    return SyslogLine(source, hostname, app, pri & 7, _message_text(rest), pri >> 3)


def parse_message(data: bytes, source: str) -> SyslogLine:
    """One datagram as a `SyslogLine`; `BadMessage` when it is not syslog (nothing else raised)."""
    if not data:
        raise BadMessage("empty datagram")
    if len(data) > MAX_DATAGRAM:
        raise BadMessage("datagram too long")
    pri, at = _priority(data)
    if data[at : at + 2] == b"1 ":
        return _parse_5424(data[at + 2 :], source, pri)
    return _parse_3164(data[at:], source, pri)


class SyslogReceiver:
    """Listens on `bind`:`port` (UDP, IPv4 or IPv6 by the address) and calls `on_line` per message.

    `on_line` runs on the receiver's thread. `received` counts messages passed on, `dropped`
    datagrams that were not syslog (`last_drop` says why the last one was dropped).
    """

    def __init__(self, bind: str, port: int, on_line: Callable[[SyslogLine], None]) -> None:
        self.bind = bind
        self._port = port
        self.on_line = on_line
        self.received = 0
        self.dropped = 0
        self.last_drop = ""
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when asked for port 0)."""
        return self._port

    def start(self) -> SyslogReceiver:
        sock = bound_udp("syslog", self.bind, self._port, RECEIVE_BUFFER)
        # A timeout, not select(): select() refuses descriptors above 1023 (a busy server).
        sock.settimeout(POLL_SECONDS)
        self._socket = sock
        self._port = sock.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._receive_forever, args=(sock,), daemon=True, name="syslog"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now; the port is free when this returns."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout=POLL_SECONDS * 10)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._socket = None
        self._thread = None

    def __enter__(self) -> SyslogReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _drop(self, reason: str) -> None:
        self.dropped += 1
        self.last_drop = reason

    def _receive_forever(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                # One octet more than allowed tells a long datagram from one that just fits.
                data, sender = sock.recvfrom(MAX_DATAGRAM + 1)
            except TimeoutError:
                continue
            except OSError:
                if not self._stopping.is_set():
                    time.sleep(POLL_SECONDS)  # e.g. out of memory: try again, never spin
                continue
            self._take(data, str(sender[0]) if sender else "?")

    def _take(self, data: bytes, source: str) -> None:
        try:
            line = parse_message(data, source)
        except BadMessage as error:
            self._drop(str(error))
            return
        except Exception as error:  # a parser bug must not take the listener down
            self._drop(f"parser error: {type(error).__name__}")
            return
        self.received += 1
        try:
            self.on_line(line)
        except Exception as error:  # nor must the caller's handler
            self.last_drop = f"on_line failed: {error}"
