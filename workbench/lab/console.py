"""Parse the stub's machine-readable console lines (`stub: ...`, see stub/FORMAT.md).

OVMF mirrors ConOut to the serial port with ANSI escape sequences and CRs around the text;
`clean_serial_text` removes them before parsing.
"""

from __future__ import annotations

import re

from workbench.lab.events import StubStep

PREFIX = "stub: "

# CSI sequences (colours, cursor moves), OSC sequences, and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Other control characters except TAB.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# A token: key=value (value bare or double-quoted with \" and \\ escapes), or a bare word.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_TOKEN = re.compile(rf"\s*(?:([A-Za-z0-9_.-]+)=(?:{_QUOTED}|(\S*))|{_QUOTED}|(\S+))")


def clean_serial_text(text: str) -> str:
    """Remove ANSI escapes, CRs and other control characters from one console line."""
    return _CONTROL.sub("", _ANSI.sub("", text)).rstrip()


# Inside quotes: \xNN is one byte (control and non-ASCII bytes), \c is c.
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")


def _unescape(quoted: str) -> str:
    """Quoted text back to the stub's bytes, then UTF-8 (see stub/FORMAT.md, console protocol)."""
    data = bytearray()
    position = 0
    for match in _ESCAPE.finditer(quoted):
        data += quoted[position : match.start()].encode()
        escape = match.group(1)
        data += bytes([int(escape[1:], 16)]) if len(escape) == 3 else escape.encode()
        position = match.end()
    data += quoted[position:].encode()
    return data.decode("utf-8", errors="replace")


def _tokens(text: str) -> list[tuple[str | None, str]]:
    """(key, value) pairs; bare words come back as (None, word)."""
    tokens: list[tuple[str | None, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        key, quoted_value, bare_value, quoted_word, word = match.groups()
        if key is not None:
            value = _unescape(quoted_value) if quoted_value is not None else bare_value
            tokens.append((key, value))
        elif quoted_word is not None:
            tokens.append((None, _unescape(quoted_word)))
        elif word is not None:
            tokens.append((None, word))
        position = match.end()
    return tokens


# The EFI status an error line ends with: a specification name or a hex value.
_STATUS = re.compile(r" status=(EFI_[A-Z0-9_]+|0x[0-9a-f]{16})$")


def _parse_error(step: str, body: str, raw: str) -> StubStep:
    """`<what> <path-or-url>: <reason> status=<EFI status>` (the subject and status optional)."""
    fields: dict[str, str] = {}
    status = _STATUS.search(body)
    if status:
        fields["status"] = status.group(1)
        body = body[: status.start()]
    head, separator, reason = body.partition(": ")
    if not separator:
        head, reason = body.rstrip(":"), ""
    subject, _, path = head.strip().partition(" ")
    path = path.strip()
    if len(path) >= 2 and path.startswith('"') and path.endswith('"'):
        path = _unescape(path[1:-1])
    return StubStep(
        step=step,
        subject=subject or None,
        fields=fields,
        path=path or None,
        reason=reason.strip() or None,
        raw=raw,
    )


def parse_stub_line(line: str) -> StubStep | None:
    """A `stub: ` console line as a StubStep, or None for any other line."""
    # Only at the start: the kernel's own "EFI stub: ..." lines are not ours.
    raw = clean_serial_text(line).strip()
    if not raw.startswith(PREFIX):
        return None
    body = raw[len(PREFIX) :].strip()
    if not body:
        return None
    step, _, rest = body.partition(" ")
    step = step.rstrip(":")
    if step == "error":
        return _parse_error(step, rest, raw)
    if step == "warning":
        return StubStep(step=step, subject=None, fields={}, path=None, reason=rest or None, raw=raw)
    tokens = _tokens(body)
    first_key, first_value = tokens[0]
    # The step word may carry a value itself (`version=0.1.0`, `source=net server=...`).
    step = first_key if first_key is not None else first_value.rstrip(":")
    fields: dict[str, str] = {}
    words: list[str] = []
    for key, value in tokens[0 if first_key is not None else 1 :]:
        if key is None:
            words.append(value)
        else:
            fields[key] = value
    # Words after the subject are flags (`loaded kernel embedded ...`).
    for flag in words[1:]:
        fields.setdefault(flag, "true")
    return StubStep(
        step=step,
        subject=words[0] if words else None,
        fields=fields,
        path=fields.get("path"),
        reason=fields.get("reason"),
        raw=raw,
    )


# What OVMF's boot manager prints when image verification (Secure Boot) refuses a boot option.
_FIRMWARE_REFUSAL = re.compile(
    r'BdsDxe: failed to load (Boot[0-9A-Fa-f]+) "([^"]*)" .*: (Access Denied|Security Violation)'
)


_FIRMWARE_LOAD_FAILURE = re.compile(
    r'BdsDxe: failed to load (Boot[0-9A-Fa-f]+) "([^"]*)" .*: ([^:]+)$'
)


def parse_firmware_load_failure(line: str) -> tuple[str, str, str] | None:
    """(boot option, its description, status) when the firmware could not load a boot option
    at all (e.g. its PXE or HTTP download failed)."""
    match = _FIRMWARE_LOAD_FAILURE.search(line)
    return match.groups() if match else None  # type: ignore[return-value]


def parse_firmware_refusal(line: str) -> tuple[str, str, str] | None:
    """(boot option, its description, status) when the firmware refused to start an image."""
    match = _FIRMWARE_REFUSAL.search(line)
    return match.groups() if match else None  # type: ignore[return-value]
