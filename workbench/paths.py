"""The stub's path rules for `.linux` / `.initrd` (thin stub), mirrored from stub/src/paths.c.

Both implementations are tested against tests/vectors/paths.json, and raise the same reasons:

    \\EFI\\Linux\\k.efi        ESP path \\EFI\\Linux\\k.efi, TFTP name EFI/Linux/k.efi (boot server)
    tftp://10.0.0.1/a/k.efi  TFTP server 10.0.0.1, name a/k.efi
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.errors import WorkbenchError

# The C stub keeps the normalised name in a 512-byte buffer with its NUL.
MAX_NAME_BYTES = 511
URL_PREFIX = "tftp://"

_URL_LIKE = re.compile(r"^[A-Za-z0-9+.-]+://")
_SEPARATORS = re.compile(r"[\\/]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")


@dataclass(frozen=True)
class StubPath:
    """A validated `.linux` / `.initrd` path."""

    text: str
    esp_parts: tuple[str, ...]
    tftp_server: str | None

    @property
    def is_url(self) -> bool:
        return self.tftp_server is not None

    @property
    def tftp_name(self) -> str:
        return "/".join(self.esp_parts)

    @property
    def esp_path(self) -> str:
        return "\\" + "\\".join(self.esp_parts)


def _is_dotted_quad(host: str) -> bool:
    octets = host.split(".")
    return len(octets) == 4 and all(_OCTET.match(o) and int(o) <= 255 for o in octets)


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
        return StubPath(text, _components(text), None)
    if not text[: len(URL_PREFIX)].lower() == URL_PREFIX:
        raise WorkbenchError("unsupported URL scheme (only tftp://)")
    host, _, _ = text[len(URL_PREFIX) :].partition("/")
    if not _is_dotted_quad(host):
        raise WorkbenchError("server is not a dotted-quad IPv4 address")
    rest = text[len(URL_PREFIX) + len(host) :]
    return StubPath(text, _components(rest), host)
