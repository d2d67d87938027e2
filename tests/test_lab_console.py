"""Parsing the stub's `stub: ` console lines and cleaning OVMF's serial output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.lab.console import clean_serial_text, parse_stub_line
from workbench.lab.events import Outcome, StubStep, Transfer, event_from_dict


def test_ansi_and_carriage_returns_are_removed() -> None:
    assert clean_serial_text("\x1b[0m\x1b[37m\x1b[40mstub: halting\r") == "stub: halting"
    assert clean_serial_text("\x1b[2J\x1b[01;01Hplain") == "plain"


@pytest.mark.parametrize(
    ("line", "step", "subject", "fields"),
    [
        ("stub: version=0.1.0", "version", None, {"version": "0.1.0"}),
        ("stub: secureboot=disabled", "secureboot", None, {"secureboot": "disabled"}),
        ("stub: source=local", "source", None, {"source": "local"}),
        ("stub: source=net server=10.0.2.2", "source", None,
         {"source": "net", "server": "10.0.2.2"}),
        ("stub: loading kernel path=\\EFI\\Linux\\vmlinuz from=esp", "loading", "kernel",
         {"path": "\\EFI\\Linux\\vmlinuz", "from": "esp"}),
        ("stub: loading initrd path=\\EFI\\Linux\\i from=tftp://10.0.2.2/EFI/Linux/i",
         "loading", "initrd", {"path": "\\EFI\\Linux\\i", "from": "tftp://10.0.2.2/EFI/Linux/i"}),
        ("stub: loaded kernel path=\\EFI\\Linux\\vmlinuz bytes=14186432 sha256=ok", "loaded",
         "kernel", {"path": "\\EFI\\Linux\\vmlinuz", "bytes": "14186432", "sha256": "ok"}),
        ("stub: loaded initrd embedded bytes=9 sha256=unchecked", "loaded", "initrd",
         {"embedded": "true", "bytes": "9", "sha256": "unchecked"}),
        ("stub: starting kernel", "starting", "kernel", {}),
        ("stub: resetting in=5s", "resetting", None, {"in": "5s"}),
        # An older stub's words still parse by the grammar.
        ("stub: resetting in 5s", "resetting", "in", {"5s": "true"}),
        ("stub: halting", "halting", None, {}),
        ("stub: returning to=firmware", "returning", None, {"to": "firmware"}),
    ],
)  # fmt: skip
def test_steps_and_fields(line: str, step: str, subject: str | None, fields: dict) -> None:
    parsed = parse_stub_line(line)
    assert parsed is not None
    assert (parsed.step, parsed.subject, parsed.fields) == (step, subject, fields)
    assert parsed.raw == line
    assert parsed.path == fields.get("path")


def test_quoted_cmdline_with_escapes_and_non_ascii() -> None:
    parsed = parse_stub_line(r'stub: cmdline="console=ttyS0 wb.note=\"a b\" x=\\ wb.name=Grüße"')
    assert parsed is not None
    assert parsed.fields["cmdline"] == 'console=ttyS0 wb.note="a b" x=\\ wb.name=Grüße'


@pytest.mark.parametrize(
    ("line", "subject", "path", "reason"),
    [
        ("stub: error: initrd \\EFI\\Linux\\initrd.img: sha256 mismatch (expected 99, got be)",
         "initrd", "\\EFI\\Linux\\initrd.img", "sha256 mismatch (expected 99, got be)"),
        ("stub: error: kernel tftp://10.0.2.2/EFI/Linux/vmlinuz: TFTP error: file not found",
         "kernel", "tftp://10.0.2.2/EFI/Linux/vmlinuz", "TFTP error: file not found"),
        ("stub: error: source: no file system and no PXE", "source", None,
         "no file system and no PXE"),
        ("stub: error: kernel (embedded): not an x86_64 image", "kernel", "(embedded)",
         "not an x86_64 image"),
        ("stub: error: kernel \\EFI\\My Linux\\vmlinuz: file not found", "kernel",
         "\\EFI\\My Linux\\vmlinuz", "file not found"),
    ],
)  # fmt: skip
def test_errors_name_what_where_and_why(
    line: str, subject: str, path: str | None, reason: str
) -> None:
    parsed = parse_stub_line(line)
    assert parsed is not None
    assert (parsed.step, parsed.subject, parsed.path, parsed.reason) == (
        "error", subject, path, reason,
    )  # fmt: skip


def test_hex_escapes_are_bytes_decoded_as_utf8() -> None:
    # What the stub prints for `wb.name=Grüße` and a tab: every non-ASCII byte escaped.
    parsed = parse_stub_line(r'stub: cmdline="wb.name=Gr\xc3\xbc\xc3\x9fe t=\x09 lit=\\x41"')
    assert parsed is not None
    assert parsed.fields["cmdline"] == "wb.name=Grüße t=\t lit=\\x41"
    # A path with non-ASCII bytes comes quoted and escaped too.
    loaded = parse_stub_line(r'stub: loaded kernel path="\\EFI\\K\xc3\xa9" bytes=3 sha256=ok')
    assert loaded is not None and loaded.fields["path"] == "\\EFI\\Ké"


def test_warning_keeps_its_text() -> None:
    parsed = parse_stub_line('stub: warning: policy: unknown key: "colour=blue"')
    assert parsed is not None
    assert (parsed.step, parsed.subject) == ("warning", "policy")
    assert parsed.reason == 'unknown key: "colour=blue"'


@pytest.mark.parametrize(
    "line",
    ["EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path", "hello", "stub:", ""],
)
def test_other_lines_are_not_steps(line: str) -> None:
    assert parse_stub_line(line) is None


def test_events_round_trip_through_json() -> None:
    events = [
        StubStep("error", "initrd", {}, "\\x", "bad", "stub: error: initrd \\x: bad", t=1.5),
        Transfer("EFI/Linux/vmlinuz", "10.0.2.41", "probe", total=10),
        Outcome(ok=False, kind="stub-error", reason="r", seconds=2.0, errors=["error: x"]),
    ]
    for event in events:
        data = json.loads(json.dumps(event.to_dict()))
        assert data["type"] == type(event).__name__
        assert event_from_dict(data) == event


@pytest.mark.parametrize(
    ("line", "reason", "status"),
    [
        ("stub: error: kernel \\EFI\\Linux\\vmlinuz: file not found status=EFI_NOT_FOUND",
         "file not found", "EFI_NOT_FOUND"),
        ("stub: error: initrd: another loader already registered an initrd (LoadFile2 on the "
         "initrd media path) status=EFI_ALREADY_STARTED",
         "another loader already registered an initrd (LoadFile2 on the initrd media path)",
         "EFI_ALREADY_STARTED"),
        ("stub: error: kernel \\EFI\\Linux\\vmlinuz: the kernel's EFI stub failed "
         "status=0x8000000000000064", "the kernel's EFI stub failed", "0x8000000000000064"),
        # Text that only looks like a status inside the reason stays in the reason.
        ("stub: error: kernel x: odd status=EFI_NOT_FOUND here", "odd status=EFI_NOT_FOUND here",
         None),
    ],
)  # fmt: skip
def test_errors_carry_the_efi_status(line: str, reason: str, status: str | None) -> None:
    parsed = parse_stub_line(line)
    assert parsed is not None
    assert parsed.reason == reason
    assert parsed.fields.get("status") == status


def _console_vectors() -> list[dict]:
    path = Path(__file__).parent / "vectors" / "console.json"
    return json.loads(path.read_text(encoding="utf-8"))["lines"]


@pytest.mark.parametrize("vector", _console_vectors(), ids=lambda v: v["line"][6:40])
def test_console_vectors_parse_as_the_stub_meant(vector: dict) -> None:
    """The same vectors the stub's host tests build these lines from (stub/tests/test_line.c)."""
    parsed = parse_stub_line(vector["line"])
    assert parsed is not None
    want = vector["parsed"]
    got = {"step": parsed.step, "subject": parsed.subject, "fields": parsed.fields,
           "path": parsed.path, "reason": parsed.reason}  # fmt: skip
    assert got == want


def test_a_note_is_the_reason_not_fields() -> None:
    parsed = parse_stub_line("stub: kernel-nx=unavailable (no EFI_MEMORY_ATTRIBUTE_PROTOCOL)")
    assert parsed is not None
    assert parsed.fields == {"kernel-nx": "unavailable"}
    assert parsed.reason == "no EFI_MEMORY_ATTRIBUTE_PROTOCOL"
    assert parsed.subject is None


def test_a_quoted_error_subject_may_hold_a_colon_and_space() -> None:
    parsed = parse_stub_line(
        'stub: error: kernel "\\\\EFI\\\\a: b": file not found status=EFI_NOT_FOUND'
    )
    assert parsed is not None
    assert (parsed.subject, parsed.path, parsed.reason) == (
        "kernel",
        "\\EFI\\a: b",
        "file not found",
    )


def test_a_bare_error_subject_ending_in_a_colon_keeps_it() -> None:
    parsed = parse_stub_line("stub: error: kernel \\EFI\\x:: file not found status=EFI_NOT_FOUND")
    assert parsed is not None
    assert (parsed.path, parsed.reason) == ("\\EFI\\x:", "file not found")
