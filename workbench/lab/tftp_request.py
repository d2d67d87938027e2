"""A TFTP request (RRQ or WRQ) read from the bytes of one datagram, pure.

RFC 1350: opcode, file name, NUL, mode, NUL; RFC 2347 adds name/value pairs, each NUL-ended.
What is not a well-formed request is `Malformed`, with the error code the server answers
(4, illegal TFTP operation, for the request itself; 8, option negotiation refused, for its
options), so a broken client hears why instead of nothing.

Choices where the RFCs leave room:
- NULs after the last complete field are padding and are ignored (some clients pad their
  requests; atftpd and tftp-hpa read past them too). An option name without its value is
  refused (8).
- The file name is UTF-8 (the stub's paths are, stub/FORMAT.md §3); other bytes are refused
  (4). Control characters pass here: the server refuses those names as it opens them.
- The numeric options we answer (blksize, tsize, timeout, windowsize) must be decimal, at most
  MAX_DIGITS digits, or the request is refused (8); an unknown option is ignored whatever its
  value, as RFC 2347 says. An option asked twice is refused (8).
- An ERROR sent to the listening port is never answered (no error loops); any other opcode
  there (DATA, ACK, OACK, unknown) is answered with 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
ERROR_ILLEGAL_OPERATION = 4
ERROR_OPTION_REFUSED = 8
MODES = ("netascii", "octet", "mail")
NUMERIC_OPTIONS = ("blksize", "tsize", "timeout", "windowsize")
MAX_DIGITS = 10


@dataclass(frozen=True)
class Request:
    write: bool  # WRQ (always refused by the server) rather than RRQ
    filename: str
    mode: str  # lower case: netascii, octet or mail
    options: dict[str, str] = field(default_factory=dict)  # names in lower case


class Malformed(Exception):
    """Not a request the server can answer with data; `code` is the ERROR to send (None: send
    nothing), `filename` the name as far as it could be read (for the event)."""

    def __init__(self, code: int | None, reason: str, filename: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.filename = filename


def parse_request(packet: bytes) -> Request:
    """The request in `packet`; Malformed (with the ERROR code to answer) otherwise."""
    if len(packet) < 2:
        raise Malformed(ERROR_ILLEGAL_OPERATION, "packet too short for an opcode")
    opcode = int.from_bytes(packet[:2], "big")
    if opcode == ERROR:
        raise Malformed(None, "ERROR packet sent to the listening port")
    if opcode not in (RRQ, WRQ):
        raise Malformed(ERROR_ILLEGAL_OPERATION, f"opcode {opcode} is not a request")
    body = packet[2:]
    fields = body.split(b"\0")
    name = fields[0].decode("utf-8", "replace")
    if not body.endswith(b"\0"):
        raise Malformed(ERROR_ILLEGAL_OPERATION, "request not NUL-terminated", name)
    fields.pop()  # after the final NUL
    while len(fields) > 2 and not fields[-1]:
        fields.pop()  # padding
    if len(fields) < 2 or not fields[1]:
        raise Malformed(ERROR_ILLEGAL_OPERATION, "no transfer mode", name)
    try:
        # A leading '/' names the served root, as atftpd and dnsmasq read it (shim asks so).
        filename = fields[0].decode("utf-8").lstrip("/")
    except UnicodeDecodeError:
        raise Malformed(ERROR_ILLEGAL_OPERATION, "file name is not UTF-8", name) from None
    if not filename:
        raise Malformed(ERROR_ILLEGAL_OPERATION, "empty file name", name)
    mode = fields[1].decode("ascii", "replace").lower()
    if mode not in MODES:
        raise Malformed(ERROR_ILLEGAL_OPERATION, "unknown transfer mode", filename)
    options = _options(fields[2:], filename)
    return Request(write=opcode == WRQ, filename=filename, mode=mode, options=options)


def _options(fields: list[bytes], filename: str) -> dict[str, str]:
    def refuse(reason: str) -> Malformed:
        return Malformed(ERROR_OPTION_REFUSED, reason, filename)

    if len(fields) % 2:
        raise refuse("option without a value")
    options: dict[str, str] = {}
    for index in range(0, len(fields), 2):
        raw_name, raw_value = fields[index], fields[index + 1]
        if not raw_name or not raw_name.isascii():
            raise refuse("empty or non-ASCII option name")
        name = raw_name.decode("ascii").lower()
        if name in options:
            raise refuse(f"option {name} given twice")
        if name in NUMERIC_OPTIONS and not (raw_value.isdigit() and len(raw_value) <= MAX_DIGITS):
            raise refuse(f"option {name} is not a number of at most {MAX_DIGITS} digits")
        options[name] = raw_value.decode("ascii", "replace")
    return options
