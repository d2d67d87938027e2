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

# The grammar of `stub: ` lines is in stub/FORMAT.md (section 7); tests/vectors/console.json
# holds lines with what they mean, run here and by the stub's host tests.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_KEY = re.compile(r"([A-Za-z0-9_.-]+)=")
_BARE = re.compile(r"\S*")
_STATUS = re.compile(r" status=(EFI_[A-Z0-9_]+|0x[0-9a-f]{16})$")
_TOPIC = re.compile(r"([A-Za-z0-9_.-]+): ")


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


def _value(text: str, position: int) -> tuple[str, int]:
    """A value at `position`: quoted (unescaped) or bare up to the next space."""
    quoted = _QUOTED.match(text, position)
    if quoted is not None:
        return _unescape(quoted.group(1)), quoted.end()
    bare = _BARE.match(text, position)
    assert bare is not None  # \S* always matches
    return bare.group(0), bare.end()


def _record(body: str, raw: str) -> StubStep:
    """`step *(SP item) [SP "(" note ")"]`: items are key=value fields or bare words; the first
    token is the step, the next bare word the subject, later bare words flags."""
    words: list[str] = []
    fields: dict[str, str] = {}
    step: str | None = None
    note: str | None = None
    position = 0
    while position < len(body):
        if body[position] == " ":
            position += 1
            continue
        if body[position] == "(":
            note = body[position + 1 :].removesuffix(")")
            break
        key = _KEY.match(body, position)
        if key is not None:
            fields[key.group(1)], position = _value(body, key.end())
            step = step or key.group(1)
            continue
        word, position = _value(body, position)
        if step is None:
            step = word.rstrip(":")
        else:
            words.append(word)
    for flag in words[1:]:
        fields.setdefault(flag, "true")
    return StubStep(
        step=step or "",
        subject=words[0] if words else None,
        fields=fields,
        path=fields.get("path"),
        reason=note if note is not None else fields.get("reason"),
        raw=raw,
    )


def _error(body: str, raw: str) -> StubStep:
    """`<what>[ <subject>]: <reason> status=<EFI status>`; the subject is a value (quoted when
    it has a space, so a bare one ends at the first space)."""
    fields: dict[str, str] = {}
    status = _STATUS.search(body)
    if status:
        fields["status"] = status.group(1)
        body = body[: status.start()]
    what, _, rest = body.partition(" ")
    path: str | None = None
    if what.endswith(":"):
        what, reason = what[:-1], rest
    elif rest.startswith('"'):
        path, position = _value(rest, 0)
        reason = rest[position:].removeprefix(":")
    else:
        # A bare subject has no space, so the first ": " ends it (even after a colon of its own).
        path, _, reason = rest.partition(": ")
    return StubStep(
        step="error",
        subject=what or None,
        fields=fields,
        path=path or None,
        reason=reason.strip() or None,
        raw=raw,
    )


def _warning(body: str, raw: str) -> StubStep:
    """`<topic>: <free text>` (an older stub's warning may lack the topic)."""
    topic = _TOPIC.match(body)
    subject = topic.group(1) if topic else None
    reason = body[topic.end() :] if topic else body
    return StubStep(
        step="warning", subject=subject, fields={}, path=None, reason=reason or None, raw=raw
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
    if body.startswith("error:"):
        return _error(body[len("error:") :].strip(), raw)
    if body.startswith("warning:"):
        return _warning(body[len("warning:") :].strip(), raw)
    return _record(body, raw)


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


def firmware_refusal_reason(option: str, description: str, status: str) -> str:
    """The one-line reason a boot run and `explain` give for a firmware refusal."""
    return f'the firmware refused {option} "{description}": {status}'


def parse_firmware_refusal(line: str) -> tuple[str, str, str] | None:
    """(boot option, its description, status) when the firmware refused to start an image."""
    match = _FIRMWARE_REFUSAL.search(line)
    return match.groups() if match else None  # type: ignore[return-value]
