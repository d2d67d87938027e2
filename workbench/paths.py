"""The stub's path rules for `.linux` / `.initrd` (thin stub), mirrored from stub/src/paths.c
and stub/src/url.c.

Both implementations are tested against tests/vectors/paths.json, and raise the same reasons:

    \\EFI\\Linux\\k.efi          ESP path \\EFI\\Linux\\k.efi, TFTP name EFI/Linux/k.efi
    tftp://10.0.0.1/a/k.efi    TFTP server 10.0.0.1, name a/k.efi
    tftp://[fd00::1]/a/k.efi   TFTP server fd00::1 (IPv6), name a/k.efi
    http://host:8080/a/k.efi   fetched by HTTP from that URL (https:// too)

Over HTTP a plain path resolves against the stub's own URL (RFC 3986, `\\` read as `/`): with
a leading separator from the server's root, without one beside the stub.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from workbench.errors import WorkbenchError

# The C stub keeps the normalised name in a 512-byte buffer with its NUL.
MAX_NAME_BYTES = 511
MAX_AUTHORITY_BYTES = 127
MAX_URL_BYTES = 2047
TFTP_PREFIX = "tftp://"
HTTP_PREFIX = "http://"
HTTPS_PREFIX = "https://"
BAD_SCHEME = "unsupported URL scheme (tftp://, http:// or https://)"
BAD_TFTP_SERVER = "TFTP server is not an IPv4 or [IPv6] address"
BAD_HTTP_HOST = "HTTP host is not an IP address or DNS name (with an optional :port)"
BAD_BASE = "the stub's own URL is not an http:// or https:// URL"

_URL_LIKE = re.compile(r"^[A-Za-z0-9+.-]+://")
_SEPARATORS = re.compile(r"[\\/]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")
_DNS_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9-])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_HEX = "0123456789abcdefABCDEF"
# RFC 3986 unreserved and sub-delims, ':' and '@' (and '/' between components).
_URL_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)

Scheme = Literal["plain", "tftp", "http"]


@dataclass(frozen=True)
class StubPath:
    """A validated `.linux` / `.initrd` path."""

    text: str
    esp_parts: tuple[str, ...]
    tftp_server: str | None  # tftp:// URLs: the server's address, IPv6 as RFC 5952 text
    scheme: Scheme = "plain"
    absolute: bool = False  # plain paths: written with a leading separator
    http_authority: str | None = None  # http(s):// URLs: host[:port] as written
    https: bool = False

    @property
    def is_url(self) -> bool:
        return self.scheme != "plain"

    @property
    def tftp_name(self) -> str:
        return "/".join(self.esp_parts)

    @property
    def esp_path(self) -> str:
        return "\\" + "\\".join(self.esp_parts)

    def tftp_url(self, boot_server: str) -> str:
        """The tftp:// URL the stub names for this path when it comes over TFTP."""
        server = self.tftp_server or boot_server
        host = f"[{server}]" if ":" in server else server
        return f"tftp://{host}/{self.tftp_name}"

    def http_url(self, base: str | None) -> str:
        """The URL the stub requests over HTTP, `base` being its own URL (url.c)."""
        return http_url(base, self)


def _is_dotted_quad(host: str) -> bool:
    octets = host.split(".")
    return len(octets) == 4 and all(_OCTET.match(o) and int(o) <= 255 for o in octets)


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    """RFC 4291 text without an embedded dotted quad or a zone, as the C accepts it."""
    if "." in text or "%" in text or not text:
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def valid_http_authority(text: str) -> bool:
    """host (dotted quad, [IPv6] or a DNS name) and an optional :port 1..65535."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or _ipv6(text[1:end]) is None:
            return False
        rest = text[end + 1 :]
    else:
        host, _, _ = text.partition(":")
        if not _DNS_NAME.match(host) or ".." in host:
            return False
        rest = text[len(host) :]
    if not rest:
        return True
    port = rest[1:]
    return rest[0] == ":" and bool(_PORT.match(port)) and 1 <= int(port) <= 65535


def _components(path: str) -> tuple[str, ...]:
    # In order, as the C does: the first problem met decides the reason.
    parts: list[str] = []
    length = -1  # bytes of "/".join(parts)
    for part in _SEPARATORS.split(path):
        if part in ("", "."):
            continue
        if part == "..":
            raise WorkbenchError("'..' component in path")
        length += 1 + len(part.encode())
        if length > MAX_NAME_BYTES:
            raise WorkbenchError("path too long")
        parts.append(part)
    if not parts:
        raise WorkbenchError("empty path")
    return tuple(parts)


def _check_url_name(name: str) -> None:
    data = name.encode()
    i = 0
    while i < len(data):
        if data[i] == ord("%"):
            escape = data[i + 1 : i + 3].decode("latin-1")
            if len(escape) < 2 or any(c not in _HEX for c in escape):
                raise WorkbenchError("bad %-escape in URL")
            i += 3
            continue
        if data[i] not in _URL_SAFE:
            raise WorkbenchError("character a URL path cannot carry (write it as %XX)")
        i += 1


def _split_host(text: str, prefix_length: int) -> tuple[str, str]:
    rest = text[prefix_length:]
    match = re.search(r"[\\/]", rest)
    end = match.start() if match else len(rest)
    return rest[:end], rest[end:]


def parse_stub_path(text: str | bytes) -> StubPath:
    """Validate a section path as the stub does; WorkbenchError carries the stub's reason."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise WorkbenchError("invalid UTF-8 in path") from None
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise WorkbenchError("invalid UTF-8 in path")
    if not text:
        raise WorkbenchError("empty path")
    if _CONTROL.search(text):
        raise WorkbenchError("control character in path")
    if not _URL_LIKE.match(text):
        return StubPath(text, _components(text), None, absolute=text[0] in "\\/")
    lowered = text.lower()
    if lowered.startswith(TFTP_PREFIX):
        host, rest = _split_host(text, len(TFTP_PREFIX))
        server: str | None = None
        if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
            address = _ipv6(host[1:-1])
            server = str(address) if address is not None else None
        elif _is_dotted_quad(host):
            server = host
        if server is None:
            raise WorkbenchError(BAD_TFTP_SERVER)
        return StubPath(text, _components(rest), server, scheme="tftp")
    for prefix, https in ((HTTP_PREFIX, False), (HTTPS_PREFIX, True)):
        if lowered.startswith(prefix):
            host, rest = _split_host(text, len(prefix))
            if not valid_http_authority(host):
                raise WorkbenchError(BAD_HTTP_HOST)
            if len(host.encode()) > MAX_AUTHORITY_BYTES:
                raise WorkbenchError("HTTP host too long")
            parts = _components(rest)
            _check_url_name("/".join(parts))
            return StubPath(text, parts, None, scheme="http", http_authority=host, https=https)
    raise WorkbenchError(BAD_SCHEME)


def _base_authority_end(base: str) -> int | None:
    """Where the authority of an http(s):// base ends, or None when it is not one."""
    lowered = base.lower()
    for prefix in (HTTP_PREFIX, HTTPS_PREFIX):
        if lowered.startswith(prefix):
            match = re.search(r"[/?#]", base[len(prefix) :])
            end = len(prefix) + (match.start() if match else len(base) - len(prefix))
            if valid_http_authority(base[len(prefix) : end]):
                return end
    return None


def http_url(base: str | None, path: StubPath) -> str:
    """The URL the stub requests for `path`, loaded from `base` (stub/src/url.c)."""
    if path.scheme == "tftp":
        raise WorkbenchError("a tftp:// path cannot be fetched over HTTP")
    if path.scheme == "http":
        url = f"{'https' if path.https else 'http'}://{path.http_authority}/{path.tftp_name}"
    else:
        end = _base_authority_end(base) if base is not None else None
        if base is None or end is None or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in base):
            raise WorkbenchError(BAD_BASE)
        if path.absolute:
            keep = end
        else:
            stop = re.search(r"[?#]", base[end:])
            directory = base[end : end + stop.start()] if stop else base[end:]
            keep = end + directory.rfind("/") if "/" in directory else end
        encoded = "".join(
            chr(b) if b in _URL_SAFE else f"%{b:02X}" for b in path.tftp_name.encode()
        )
        url = f"{base[:keep]}/{encoded}"
    if len(url.encode()) > MAX_URL_BYTES:
        raise WorkbenchError("URL too long")
    return url
