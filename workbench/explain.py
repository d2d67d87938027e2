"""Explain a serial or screen log of a boot, captured on any machine, as a timeline.

The stub's `stub: ` lines are read with workbench.lab.console.parse_stub_line (the grammar of
stub/FORMAT.md section 7); the firmware's, shim's and the kernel's well-known lines are matched
here. With a tree (and its stub), each file the log names is checked against the tree, so a
SHA-256 mismatch says which side is stale.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from workbench.builder import file_sha256
from workbench.errors import BadInput, WorkbenchError
from workbench.lab.console import (
    clean_serial_text,
    firmware_refusal_reason,
    parse_firmware_load_failure,
    parse_firmware_refusal,
    parse_stub_line,
)
from workbench.lab.events import StubStep
from workbench.lab.shim import ShimWatch
from workbench.lookup import locate
from workbench.paths import parse_stub_path

Verdict = Literal["kernel-started", "failed", "incomplete"]
EXIT_CODES: dict[str, int] = {"kernel-started": 0, "failed": 1, "incomplete": 1}
ENDS_EARLY = "the log ends before the kernel starts"

# EFI statuses in words (UEFI specification, appendix D).
STATUS_WORDS = {
    "EFI_LOAD_ERROR": "the image could not be loaded",
    "EFI_INVALID_PARAMETER": "a value was invalid (a path or the command line)",
    "EFI_UNSUPPORTED": "the operation is not supported",
    "EFI_BAD_BUFFER_SIZE": "a buffer had the wrong size",
    "EFI_BUFFER_TOO_SMALL": "a buffer was too small",
    "EFI_NOT_READY": "there was no data pending",
    "EFI_DEVICE_ERROR": "the device reported an error",
    "EFI_WRITE_PROTECTED": "the device is write-protected",
    "EFI_OUT_OF_RESOURCES": "the firmware ran out of memory or resources",
    "EFI_VOLUME_CORRUPTED": "the file system is corrupted",
    "EFI_VOLUME_FULL": "the file system is full",
    "EFI_NO_MEDIA": "the device has no medium",
    "EFI_MEDIA_CHANGED": "the medium changed",
    "EFI_NOT_FOUND": "the file or device was not found",
    "EFI_ACCESS_DENIED": "access was denied",
    "EFI_NO_RESPONSE": "the server did not respond",
    "EFI_NO_MAPPING": "there is no mapping to the device",
    "EFI_TIMEOUT": "the operation timed out",
    "EFI_NOT_STARTED": "the protocol was not started",
    "EFI_ALREADY_STARTED": "it was already started (another loader got there first)",
    "EFI_ABORTED": "the operation was aborted",
    "EFI_ICMP_ERROR": "an ICMP error came back (host or port unreachable)",
    "EFI_TFTP_ERROR": "the TFTP server answered with an error",
    "EFI_PROTOCOL_ERROR": "a network protocol error",
    "EFI_INCOMPATIBLE_VERSION": "an incompatible version",
    "EFI_SECURITY_VIOLATION": "a security check failed (signature or hash)",
    "EFI_CRC_ERROR": "a CRC check failed",
    "EFI_END_OF_MEDIA": "the end of the medium was reached",
    "EFI_END_OF_FILE": "the file ended early (empty or short)",
    "EFI_INVALID_LANGUAGE": "an invalid language",
    "EFI_COMPROMISED_DATA": "the data is compromised",
    "EFI_HTTP_ERROR": "the HTTP server answered with an error",
}
# Error codes (high bit set) by number, for statuses printed as 0x and 16 hex digits.
_ERROR_NUMBERS = {
    1: "EFI_LOAD_ERROR", 2: "EFI_INVALID_PARAMETER", 3: "EFI_UNSUPPORTED",
    4: "EFI_BAD_BUFFER_SIZE", 5: "EFI_BUFFER_TOO_SMALL", 6: "EFI_NOT_READY",
    7: "EFI_DEVICE_ERROR", 8: "EFI_WRITE_PROTECTED", 9: "EFI_OUT_OF_RESOURCES",
    10: "EFI_VOLUME_CORRUPTED", 11: "EFI_VOLUME_FULL", 12: "EFI_NO_MEDIA",
    13: "EFI_MEDIA_CHANGED", 14: "EFI_NOT_FOUND", 15: "EFI_ACCESS_DENIED",
    16: "EFI_NO_RESPONSE", 17: "EFI_NO_MAPPING", 18: "EFI_TIMEOUT", 19: "EFI_NOT_STARTED",
    20: "EFI_ALREADY_STARTED", 21: "EFI_ABORTED", 22: "EFI_ICMP_ERROR", 23: "EFI_TFTP_ERROR",
    24: "EFI_PROTOCOL_ERROR", 25: "EFI_INCOMPATIBLE_VERSION", 26: "EFI_SECURITY_VIOLATION",
    27: "EFI_CRC_ERROR", 28: "EFI_END_OF_MEDIA", 31: "EFI_END_OF_FILE",
    32: "EFI_INVALID_LANGUAGE", 33: "EFI_COMPROMISED_DATA", 35: "EFI_HTTP_ERROR",
}  # fmt: skip
_HIGH_BIT = 1 << 63


def status_in_words(status: str | None) -> str | None:
    """An EFI status (its name, or 0x and hex digits) in words; None when unknown."""
    if status is None:
        return None
    if status.startswith("0x"):
        try:
            value = int(status, 16)
        except ValueError:
            return None
        if not value & _HIGH_BIT:
            return "a warning" if value else "success"
        name = _ERROR_NUMBERS.get(value & ~_HIGH_BIT)
        if name is None:
            return f"an error the specification does not name (code {value & ~_HIGH_BIT})"
        return f"{STATUS_WORDS[name]} ({name})"
    return STATUS_WORDS.get(status)


# What to do, by the first pattern found in the failure's reason (or status).
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), hint)
    for pattern, hint in (
        (r"sha256 mismatch", "the file changed after the stub was built: rebuild with "
         "`workbench set --rehash ROOT` or restore the file; or the server sent other bytes "
         "(`--root` tells which)"),
        (r"\bhash\b", "the stub's hash section is "
         "missing or malformed: rebuild with `workbench set --rehash ROOT`"),
        (r"HTTP 404", "the HTTP server has no file at that URL: check the path in the stub "
         "and the server's root (`workbench preview` shows the URL it asks for)"),
        (r"HTTP [45]\d\d", "the HTTP server refused the request: check its configuration and "
         "its root"),
        (r"access denied|EFI_ACCESS_DENIED",
         "the server refused the file: make it world-readable and keep it "
         "inside the server's root (no symlink out of it)"),
        (r"file not found|EFI_NOT_FOUND", "check the path in the stub (`workbench inspect`) "
         "and the server's root or the ESP (`workbench preview` shows where it lands)"),
        (r"fetch-timeout", "the file did not arrive within fetch-timeout: check the server "
         "and the link, or raise it with `workbench set --policy fetch-timeout=N`"),
        (r"timeout|no answer|unreachable|refused|EFI_TIMEOUT|EFI_NO_RESPONSE",
         "the server did not answer: check that it "
         "runs, its address, and the firewall between the machine and it"),
        (r"body ended|short|changed size|EFI_END_OF_FILE", "the transfer ended early: the "
         "server cut it or the file is empty or was being rewritten; check the server's copy"),
        (r"no file system, no PXE", "the boot device offers no file system, PXE or HTTP Boot: "
         "boot the stub from an ESP or by network"),
        (r"'\.\.'|path|EFI_INVALID_PARAMETER", "the path or command line in the stub is not "
         "usable: fix it with `workbench set` (`workbench preview` checks it)"),
        (r"another loader|EFI_ALREADY_STARTED",
         "another loader (shim, systemd-boot) already registered an "
         "initrd: boot the stub directly or drop that loader's initrd"),
        (r"this stub starts \w+ kernels", "the kernel is built for the other architecture: "
         "boot it with the stub of its own (stub.efi for x86_64, stubaa64.efi for arm64; "
         "`workbench build` picks it) or name a kernel of the stub's (`workbench inspect` "
         "shows both)"),
        (r"not an (x86_64|aarch64) image|EFI_LOAD_ERROR", "the kernel is not an EFI-stub "
         "kernel of the stub's architecture, or it returned: check the file named in .linux"),
        (r"out of memory|EFI_OUT_OF_RESOURCES", "the machine ran out of memory for the "
         "files: give it more memory or use smaller files"),
    )
)  # fmt: skip
SECURE_BOOT_HINT = (
    "Secure Boot refused the image: sign the stub with a key in db (`workbench sign STUB "
    "--keys KEYDIR`) or boot it through shim with an enrolled MOK"
)
SHIM_HINT = (
    "shim refused the stub: sign it with the MOK key shim trusts (`workbench sign`), and keep "
    "its SBAT generation above the revoked one"
)
FIRMWARE_HINTS = {
    "PXE-E16": "no DHCP offer with a boot file came: check the DHCP server's boot file option "
    "and that it answers on this network",
    "PXE-E18": "the boot server did not answer: check the TFTP server and its address in the "
    "DHCP offer",
    "PXE-E22": "an ICMP error came back: no TFTP server listens at the address the DHCP offer "
    "gives",
    "PXE-E23": "the TFTP server refused the boot file: check the DHCP boot file name (exact case) "
    "and that the file is in the server's root and world-readable",
    "PXE-E53": "the DHCP offer names no boot file: set the DHCP server's boot file option",
    "PXE-E99": "the network boot failed with an unexpected network error: check the link and "
    "the servers",
    "Could not retrieve NBP file size": "the firmware could not fetch the boot file by HTTP: "
    "check the boot URL in the DHCP offer and that the HTTP server serves it",
}
FIRMWARE_FALLBACK_HINT = "the firmware could not load the boot option: see its error lines"


def hint_for(reason: str | None, status: str | None) -> str | None:
    """What to do about a stub's failure, by its reason (else its status)."""
    for pattern, hint in _HINTS:
        if pattern.search(reason or ""):
            return hint
    for pattern, hint in _HINTS:
        if status and pattern.fullmatch(status):
            return hint
    return None


# The firmware's well-known lines (OVMF/EDK2 BdsDxe, NetworkPkg's PXE and HTTP Boot drivers).
_START_NET = re.compile(r">>Start (PXE|HTTP Boot) over (IPv4|IPv6)")
_PXE_ERROR = re.compile(r"(PXE-E[0-9A-F]{2}): (.*)")
_FIRMWARE_ERROR = re.compile(r"^Error: (.*)")
_SERVER_IP = re.compile(r"Server IP address is (\S+)")
_NBP_NAME = re.compile(r"NBP filename is (\S+)")
_NBP_SIZE = re.compile(r"NBP filesize is (\d+) Bytes")
_HTTP_URI = re.compile(r"^URI: (\S+)")
_HTTP_SIZE = re.compile(r"^File Size: (\d+) Bytes")
_BDS_LOADING = re.compile(r'BdsDxe: (loading|starting) (Boot[0-9A-Fa-f]+) "([^"]*)"')
# The kernel's own first lines.
_KERNEL = re.compile(r"^(?:\[\s*\d+\.\d+\]\s*)?(Linux version \S+|EFI stub: .*)")
# Not after "EFI " (the kernel's own lines), nor inside quotes (a line quoting a stub line,
# as `workbench boot`'s outcome does).
_STUB_INSIDE = re.compile(r"(?<!EFI )(?<!['\"])stub: ")
_STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


@dataclass
class Event:
    line: int  # 1-based line in the log
    kind: str  # "stub", "firmware", "shim", "kernel"
    text: str


@dataclass
class FileEvent:
    what: str  # "kernel" | "initrd"
    path: str | None
    source: str | None = None  # from=: esp, or the URL fetched
    via: str | None = None
    bytes: int | None = None
    ms: int | None = None
    rate_bytes_per_s: float | None = None
    sha256: str | None = None  # ok | unchecked, from the `loaded` line


@dataclass
class Failure:
    origin: str  # "stub", "firmware", "secure-boot", "shim", "end-of-log"
    line: int | None
    text: str
    what: str | None = None
    path: str | None = None
    reason: str | None = None
    status: str | None = None
    status_words: str | None = None
    hint: str | None = None
    expected_sha256: str | None = None
    got_sha256: str | None = None
    cut: bool = False  # the error line has no status: the log cut it


@dataclass
class Attempt:
    number: int
    version: str | None = None
    secureboot: str | None = None
    source: str | None = None  # local | net | http (the stub's, else the firmware's)
    server: str | None = None
    url: str | None = None
    events: list[Event] = field(default_factory=list)
    files: list[FileEvent] = field(default_factory=list)
    failure: Failure | None = None
    kernel_started: bool = False
    policy: str | None = None  # resetting in=5s | halting | returning to=firmware
    firmware_errors: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        if self.failure is None:
            return "kernel-started" if self.kernel_started else "incomplete"
        return "incomplete" if self.failure.origin == "end-of-log" else "failed"

    @property
    def closed(self) -> bool:
        return self.kernel_started or self.policy is not None or self.failure is not None


@dataclass
class FileCheck:
    what: str
    path: str
    location: str | None  # where it lands in the tree
    present: bool
    size: int | None
    sha256: str | None  # of the file in the tree now
    expected_sha256: str | None  # the stub's (from the log's mismatch line or the stub)
    verdict: str


@dataclass
class Explanation:
    log: str
    attempts: list[Attempt]
    checks: list[FileCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        # A log that reaches the kernel in its last attempt booted, whatever came before.
        return self.attempts[-1].verdict

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        attempts = []
        for attempt in self.attempts:
            data = asdict(attempt)
            data["verdict"] = attempt.verdict
            attempts.append(data)
        return {
            "log": self.log,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "attempts": attempts,
            "checks": [asdict(check) for check in self.checks],
            "notes": self.notes,
        }


def read_log(path: Path) -> str:
    """The log as text: any bytes, decoded as UTF-8 with replacement. Raises BadInput for a
    missing or binary file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a log") from None
    except OSError as error:
        raise BadInput(f"{path}: cannot read: {error.strerror or error}") from None
    head = data[: 64 * 1024]
    # A serial capture may carry a stray NUL; an executable or an image is full of them.
    if head and head.count(0) * 100 > len(head):
        raise BadInput(f"{path}: a binary file, not a boot log")
    return data.decode("utf-8", errors="replace")


def split_lines(text: str) -> list[str]:
    """Lines for any mix of CR, LF and CRLF (a lone CR, as a progress counter prints, ends one)."""
    return re.split(r"\r\n|\r|\n", text)


# The records a stub prints (stub/FORMAT.md section 7), to accept a stub line found after other
# text on the same line (a line cut by a reset runs into the next boot's first one).
KNOWN_STEPS = frozenset(
    ("version", "secureboot", "measured", "tpm", "source", "cmdline", "loading", "transfer",
     "loaded", "kernel-nx", "starting", "resetting", "halting", "returning", "warning")
)  # fmt: skip


WHATS = frozenset(("kernel", "initrd", "cmdline", "source", "stub"))
ROLES = ("kernel", "initrd")
# A new boot's first stub line, run into the line a reset cut.
_NEW_BOOT = re.compile(r"(?<!EFI )(?<!['\"])stub: version=")


def _recognised(step: StubStep | None, *, inner: bool) -> StubStep | None:
    """The step when it reads as one the stub prints, else None: text that merely starts with
    "stub: " (a document about the stub) is not a boot's line. A line found after other text
    must be complete: a known record, or an error line with its status."""
    if step is None:
        return None
    if step.step == "error":
        complete = "status" in step.fields
        return step if complete or (not inner and step.subject in WHATS) else None
    if inner:
        return step if step.step in KNOWN_STEPS else None
    return step if _STEP_NAME.fullmatch(step.step) else None


def _stub_step(clean: str) -> StubStep | None:
    """A stub line, also when other text precedes it on the same line."""
    step = _recognised(parse_stub_line(clean), inner=False)
    if step is not None:
        return step
    inside = _STUB_INSIDE.search(clean)
    if inside is None or inside.start() == 0:
        return None
    return _recognised(parse_stub_line(clean[inside.start() :]), inner=True)


def _pieces(clean: str) -> list[str]:
    """A line split where a new boot's first stub line runs into it."""
    starts = [match.start() for match in _NEW_BOOT.finditer(clean) if match.start() > 0]
    bounds = [0, *starts, len(clean)]
    return [clean[a:b] for a, b in pairwise(bounds) if clean[a:b].strip()]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


_MISMATCH = re.compile(r"expected ([0-9a-f]{64})\S*, got ([0-9a-f]{64})")


class _Reader:
    """Walks the log's lines and builds the attempts."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.shim = ShimWatch()
        self.known_lines = 0

    def current(self, *, fresh: bool = False) -> Attempt:
        """The attempt a line belongs to; `fresh` for a line that starts a boot (the stub's
        version line, the firmware starting a boot option), which opens a new attempt once
        the current one is over."""
        if self.attempts and fresh:
            last = self.attempts[-1]
            failed = last.failure.origin if last.failure is not None else None
            if last.version is None and failed == "firmware":
                last.failure = None  # an earlier boot option failed; the next one runs
        if not self.attempts or (fresh and self.attempts[-1].closed):
            self.attempts.append(Attempt(number=len(self.attempts) + 1))
            self.shim = ShimWatch()
        return self.attempts[-1]

    def feed(self, number: int, raw: str) -> None:
        for piece in _pieces(clean_serial_text(raw).strip()):
            self.feed_piece(number, piece.strip())

    def feed_piece(self, number: int, clean: str) -> None:
        step = _stub_step(clean)
        if step is not None:
            self.known_lines += 1
            self.on_stub(number, step)
            return
        kernel = _KERNEL.match(clean)
        if kernel is not None:
            if self.attempts and any(e.kind == "kernel" for e in self.attempts[-1].events):
                return  # the kernel's later lines add nothing to the boot's story
            self.known_lines += 1
            attempt = self.current()
            attempt.kernel_started = True
            attempt.events.append(Event(number, "kernel", clean))
            return
        self.on_firmware(number, clean)

    def on_stub(self, number: int, step: StubStep) -> None:
        starts = step.step == "version"
        attempt = self.current(fresh=starts)
        if starts and attempt.version is not None:
            # The stub started again without a line that closes the attempt: a reset.
            attempt = Attempt(number=len(self.attempts) + 1)
            self.attempts.append(attempt)
        attempt.events.append(Event(number, "stub", step.raw))
        fields = step.fields
        if step.step == "version":
            attempt.version = fields.get("version")
        elif step.step == "secureboot":
            attempt.secureboot = fields.get("secureboot")
        elif step.step == "source":
            attempt.source = fields.get("source")
            attempt.server = fields.get("server")
            attempt.url = fields.get("url")
        elif step.step in ("loading", "transfer", "loaded") and step.subject in ROLES:
            self.on_file(attempt, step)
        elif step.step == "starting" and step.subject == "kernel":
            attempt.kernel_started = True
        elif step.step in ("resetting", "halting", "returning"):
            attempt.policy = step.raw.removeprefix("stub: ")
        elif step.step == "error":
            attempt.failure = self.stub_failure(number, step)

    def on_file(self, attempt: Attempt, step: StubStep) -> None:
        fields = step.fields
        what = step.subject or ""
        entry = next((f for f in reversed(attempt.files) if f.what == what), None)
        if entry is None or step.step == "loading" or (step.step == "loaded" and entry.sha256):
            entry = FileEvent(what=what, path=step.path)
            attempt.files.append(entry)
        if step.step == "loading":
            entry.source = fields.get("from")
        elif step.step == "transfer":
            entry.via = fields.get("via")
            entry.bytes = _int(fields.get("bytes"))
            entry.ms = _int(fields.get("ms"))
            if entry.bytes is not None and entry.ms:
                entry.rate_bytes_per_s = round(entry.bytes * 1000 / entry.ms, 1)
        else:
            entry.path = entry.path or step.path or ("(embedded)" if "embedded" in fields else None)
            entry.bytes = _int(fields.get("bytes")) if entry.bytes is None else entry.bytes
            entry.sha256 = fields.get("sha256")

    def stub_failure(self, number: int, step: StubStep) -> Failure:
        status = step.fields.get("status")
        mismatch = _MISMATCH.search(step.reason or "")
        return Failure(
            origin="stub",
            line=number,
            text=step.raw,
            what=step.subject,
            path=step.path,
            reason=step.reason,
            status=status,
            status_words=status_in_words(status),
            hint=hint_for(step.reason, status),
            expected_sha256=mismatch.group(1) if mismatch else None,
            got_sha256=mismatch.group(2) if mismatch else None,
            cut=status is None,
        )

    def on_firmware(self, number: int, clean: str) -> None:
        refusal = parse_firmware_refusal(clean)
        if refusal is not None:
            self.known_lines += 1
            option, description, status = refusal
            attempt = self.current()
            attempt.events.append(Event(number, "firmware", clean))
            attempt.failure = Failure(
                origin="secure-boot", line=number, text=clean, what="stub", path=description,
                reason=firmware_refusal_reason(option, description, status),
                status="EFI_SECURITY_VIOLATION" if "Security" in status else "EFI_ACCESS_DENIED",
                hint=SECURE_BOOT_HINT,
            )  # fmt: skip
            attempt.failure.status_words = status_in_words(attempt.failure.status)
            return
        refused = self.shim.feed(clean)
        if refused is not None:
            self.known_lines += 1
            attempt = self.current()
            attempt.events.append(Event(number, "shim", clean))
            attempt.failure = Failure(origin="shim", line=number, text=clean, what="stub",
                                      reason=refused, hint=SHIM_HINT)  # fmt: skip
            return
        failure = parse_firmware_load_failure(clean)
        if failure is not None:
            self.known_lines += 1
            option, description, status = failure
            attempt = self.current()
            attempt.events.append(Event(number, "firmware", clean))
            if attempt.version is None:
                # No stub ran from this option (yet): its failure stands unless a stub follows.
                details = "; ".join(attempt.firmware_errors)
                hint = next((h for key, h in FIRMWARE_HINTS.items() if key in details),
                            FIRMWARE_FALLBACK_HINT)  # fmt: skip
                attempt.failure = Failure(
                    origin="firmware", line=number, text=clean, what="boot option",
                    path=description, status=None, hint=hint,
                    reason=f'the firmware could not load {option} "{description}": '
                    f"{status.strip()}" + (f" ({details})" if details else ""),
                )  # fmt: skip
                attempt.firmware_errors = []
            return
        matched = self.firmware_fact(clean)
        if matched:
            self.known_lines += 1
            starts = bool(_START_NET.search(clean) or _BDS_LOADING.search(clean))
            attempt = self.current(fresh=starts)
            attempt.events.append(Event(number, "firmware", clean))
            self.apply_fact(attempt, clean)

    @staticmethod
    def firmware_fact(clean: str) -> bool:
        patterns = (_START_NET, _PXE_ERROR, _FIRMWARE_ERROR, _SERVER_IP, _NBP_NAME, _NBP_SIZE,
                    _HTTP_URI, _HTTP_SIZE, _BDS_LOADING)  # fmt: skip
        return any(pattern.search(clean) for pattern in patterns)

    @staticmethod
    def apply_fact(attempt: Attempt, clean: str) -> None:
        start = _START_NET.search(clean)
        if start is not None and attempt.version is None:
            attempt.source = "net" if start.group(1) == "PXE" else "http"
        pxe = _PXE_ERROR.search(clean)
        if pxe is not None:
            attempt.firmware_errors.append(f"{pxe.group(1)}: {pxe.group(2)}")
        error = _FIRMWARE_ERROR.match(clean)
        if error is not None:
            attempt.firmware_errors.append(error.group(1))
        server = _SERVER_IP.search(clean)
        if server is not None and attempt.server is None:
            attempt.server = server.group(1)
        uri = _HTTP_URI.match(clean)
        if uri is not None and attempt.url is None:
            attempt.url = uri.group(1)


def explain_text(text: str, name: str = "-") -> Explanation:
    """The timeline of a log's text. Raises BadInput when it is not a boot log."""
    reader = _Reader()
    lines = split_lines(text)
    for number, line in enumerate(lines, start=1):
        reader.feed(number, line)
    if reader.known_lines == 0 or not reader.attempts:
        raise BadInput(f"{name}: not a boot log (no stub line and no known firmware line)")
    last = reader.attempts[-1]
    if last.failure is None and not last.kernel_started:
        last.failure = Failure(origin="end-of-log", line=None, text="", reason=ENDS_EARLY)
    for attempt in reader.attempts:
        if attempt.failure is not None and attempt.failure.cut:
            attempt.failure.reason = f"{attempt.failure.reason or ''} (the line is cut)".strip()
    return Explanation(log=name, attempts=reader.attempts)


def explain_log(path: Path, root: Path | None = None, stub: Path | None = None) -> Explanation:
    """Explain the log at `path`; with `root`, check the files it names in that tree."""
    explanation = explain_text(read_log(path), str(path))
    if root is not None:
        check_tree(explanation, Path(root), stub)
    return explanation


def _expected_from_stub(stub: Path) -> dict[str, str]:
    from workbench.pe.image import PeImage
    from workbench.stubinfo import describe

    with PeImage.open(stub) as image:
        info = describe(image, hashes=False)
    return {
        ref.role: ref.expected_sha256
        for ref in (info.kernel, info.initrd)
        if ref is not None and ref.expected_sha256
    }


def _named_files(explanation: Explanation) -> list[tuple[str, str, Failure | None]]:
    """(what, path or URL, its failure) for each file the log names, the fetched URL first."""
    named: dict[tuple[str, str], Failure | None] = {}
    for attempt in explanation.attempts:
        for entry in attempt.files:
            for text in (entry.source, entry.path):
                if text and text not in ("esp", "(embedded)"):
                    named.setdefault((entry.what, text), None)
                    break
        failure = attempt.failure
        if failure is None or failure.origin != "stub" or failure.what not in ROLES:
            continue
        if failure.path is not None and failure.path != "(embedded)":
            named[(failure.what, failure.path)] = failure
    return [(what, path, failure) for (what, path), failure in named.items()]


def check_tree(explanation: Explanation, root: Path, stub: Path | None) -> None:
    """Check each file the log names against `root` and the stub's embedded hashes."""
    if not root.is_dir():
        raise BadInput(f"{root}: no such directory")
    from workbench import contract
    from workbench.arch import boot_path_in

    found = boot_path_in(root)  # the tree's own stub: BOOTX64.EFI, else BOOTAA64.EFI
    stub_path = stub or (found[1] if found else root / contract.BOOT_PATH)
    expected_by_role: dict[str, str] = {}
    if stub_path.is_file():
        try:
            expected_by_role = _expected_from_stub(stub_path)
        except WorkbenchError as error:
            explanation.notes.append(f"{stub_path}: {error}")
    elif stub is not None:
        raise BadInput(f"{stub}: no such file")
    else:
        explanation.notes.append(f"{stub_path}: no stub there, so no expected hashes")
    for what, text, failure in _named_files(explanation):
        explanation.checks.append(_check_one(root, what, text, failure, expected_by_role))


def _check_one(
    root: Path, what: str, text: str, failure: Failure | None, expected_by_role: dict[str, str]
) -> FileCheck:
    from_stub = expected_by_role.get(what)
    expected = (failure.expected_sha256 if failure else None) or from_stub
    other_build = from_stub is not None and expected != from_stub
    try:
        location = locate(root, parse_stub_path(text))
    except WorkbenchError as error:
        return FileCheck(what, text, None, False, None, None, expected,
                         f"the path is not usable: {error}")  # fmt: skip
    if location is None:
        return FileCheck(what, text, None, False, None, None, expected,
                         f"not in {root}: the stub cannot find it there either")  # fmt: skip
    size = location.stat().st_size
    now = file_sha256(location).hex()
    where = str(location)
    if expected is None:
        verdict = "present; the stub carries no hash to compare with"
    elif now != expected:
        verdict = (
            "the file in the tree differs from the stub's hash: the tree changed after the stub "
            "was built (rebuild with `workbench set --rehash ROOT` or restore the file)"
        )
    elif failure is not None and failure.expected_sha256 is not None:
        verdict = (
            "the file in the tree matches the stub, but the machine got other bytes: the server "
            "sent something else (another root, a stale copy or a cache)"
        )
    else:
        verdict = "matches the stub's hash"
    if other_build:
        verdict += (
            f" (note: the stub in the tree expects {from_stub}: the log comes from another build)"
        )
    return FileCheck(what, text, where, True, size, now, expected, verdict)


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def render(explanation: Explanation) -> str:
    """The explanation as text for a person."""
    out: list[str] = []
    many = len(explanation.attempts) > 1
    for attempt in explanation.attempts:
        if many:
            out.append(f"attempt {attempt.number}:")
        pad = "  " if many else ""
        facts = [f"source {attempt.source or 'unknown'}"]
        if attempt.server:
            facts.append(f"server {attempt.server}")
        if attempt.url:
            facts.append(f"url {attempt.url}")
        if attempt.version:
            facts.append(f"stub {attempt.version}")
        if attempt.secureboot:
            facts.append(f"Secure Boot {attempt.secureboot}")
        out.append(pad + ", ".join(facts))
        for event in attempt.events:
            out.append(f"{pad}  {event.line:>5}  {event.kind:<8} {event.text}")
        for entry in attempt.files:
            line = f"{pad}{entry.what}: {entry.path or entry.source or '?'}"
            if entry.bytes is not None:
                line += f", {_size(entry.bytes)}"
            if entry.ms is not None:
                line += f" in {entry.ms} ms"
            if entry.rate_bytes_per_s is not None:
                line += f" ({_size(int(entry.rate_bytes_per_s))}/s)"
            if entry.via:
                line += f" via {entry.via}"
            if entry.sha256:
                line += f", sha256 {entry.sha256}"
            out.append(line)
        failure = attempt.failure
        if attempt.verdict == "kernel-started":
            out.append(f"{pad}=> the kernel started")
        elif failure is not None:
            where = f" at line {failure.line}" if failure.line else ""
            subject = " ".join(part for part in (failure.what, failure.path) if part)
            out.append(f"{pad}=> failed{where}: {subject + ': ' if subject else ''}"
                       f"{failure.reason or '?'}")  # fmt: skip
            if failure.status:
                words = f" ({failure.status_words})" if failure.status_words else ""
                out.append(f"{pad}   status {failure.status}{words}")
            if failure.hint:
                out.append(f"{pad}   what to do: {failure.hint}")
    for check in explanation.checks:
        out.append(f"{check.what} {check.path}:")
        if check.location:
            out.append(f"  in the tree: {check.location}, {check.size} bytes")
            out.append(f"  sha256 now:      {check.sha256}")
        if check.expected_sha256:
            out.append(f"  sha256 expected: {check.expected_sha256}")
        out.append(f"  {check.verdict}")
    out.extend(f"note: {note}" for note in explanation.notes)
    return "\n".join(out)
