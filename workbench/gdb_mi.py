"""GDB driven through its machine interface (GDB/MI, parsed by pygdbmi), for the TUI's Debug tab.

One reader thread takes GDB's records as they come: a result is handed to the request that
carries its token; `*stopped` and `*running` become `Stopped` and `Running` notes for the
caller, console output a `GdbText`. Requests may come from any thread; none of this knows of
Textual.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import LabFailure, MissingTool

# How long the reader waits for more output before handing over what it has: every request
# waits at least this long for its answer (the image finder makes hundreds of them).
READ_SLICE = 0.001
# How long one read of GDB's output blocks when there is none.
IDLE_READ = 0.2
REQUEST_TIMEOUT = 15.0


class GdbError(LabFailure):
    """GDB answered a request with ^error; the message is GDB's own."""


@dataclass(frozen=True)
class Frame:
    level: int
    function: str
    file: str | None  # as the symbols name it (src/local.c)
    fullname: str | None  # the path on this machine, when GDB found the file
    line: int | None
    address: str

    @property
    def where(self) -> str:
        place = f"{self.file}:{self.line}" if self.file and self.line else self.address
        return f"{self.function} at {place}"


@dataclass(frozen=True)
class Variable:
    name: str
    value: str
    type: str = ""


@dataclass(frozen=True)
class Stopped:
    reason: str  # breakpoint-hit, end-stepping-range, function-finished, signal-received, exited...
    frame: Frame | None
    breakpoint: int | None = None


@dataclass(frozen=True)
class Running:
    pass


@dataclass(frozen=True)
class GdbText:
    text: str


MiNote = Stopped | Running | GdbText


def frame_from(raw: dict[str, Any], level: int = 0) -> Frame:
    line = raw.get("line")
    return Frame(
        level=int(raw.get("level", level)),
        function=str(raw.get("func") or "??"),
        file=raw.get("file"),
        fullname=raw.get("fullname"),
        line=int(line) if line and str(line).isdigit() else None,
        address=str(raw.get("addr", "")),
    )


def stopped_from(payload: dict[str, Any]) -> Stopped:
    frame = payload.get("frame")
    number = payload.get("bkptno")
    return Stopped(
        reason=str(payload.get("reason", "stopped")),
        frame=frame_from(frame) if isinstance(frame, dict) else None,
        breakpoint=int(number) if number and str(number).isdigit() else None,
    )


def quote(text: str) -> str:
    """A C string for MI: `-interpreter-exec console "..."`; a line break cannot start
    another MI command."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    record: dict[str, Any] | None = None


class MiSession:
    """A GDB process in MI mode. `on_note` sees stops, runs and console text (reader thread)."""

    def __init__(self, gdb: str, on_note: Callable[[MiNote], None] | None = None) -> None:
        from pygdbmi.gdbcontroller import GdbController

        self.on_note = on_note
        self._tokens = itertools.count(1)
        self._waiters: dict[int, _Waiter] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.running = False
        self.last_stop: Stopped | None = None
        self._stop_count = 0
        self._stopped = threading.Condition()
        try:
            self._gdb = GdbController(
                command=[gdb, "--nx", "--quiet", "--interpreter=mi3"],
                time_to_check_for_additional_output_sec=READ_SLICE,
            )
        except (OSError, ValueError) as error:
            raise MissingTool(f"cannot start {gdb}: {error}") from None
        self._reader = threading.Thread(target=self._read, name="gdb-mi", daemon=True)
        self._reader.start()
        # Commands are taken while the machine runs (pause, memory reads); without this GDB
        # reads nothing until the target stops.
        self.request("-gdb-set mi-async on")

    # -- requests --

    def request(self, command: str, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Send an MI command; its ^done/^running/^connected payload, or GdbError."""
        if self._closed.is_set():
            raise GdbError("gdb has ended")
        token = next(self._tokens)
        waiter = _Waiter()
        with self._lock:
            self._waiters[token] = waiter
        try:
            self._gdb.write(f"{token}{command}", read_response=False, timeout_sec=timeout)
            if not waiter.done.wait(timeout):
                raise GdbError(f"gdb did not answer {command!r} within {timeout:g} s")
        finally:
            with self._lock:
                self._waiters.pop(token, None)
        record = waiter.record
        if record is None:
            raise GdbError(f"gdb ended before answering {command!r}")
        payload = record.get("payload") or {}
        if record.get("message") == "error":
            raise GdbError(str(payload.get("msg", "error")))
        return payload if isinstance(payload, dict) else {}

    def console(self, command: str, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """A CLI command (`add-symbol-file`, `set var`) through MI."""
        return self.request(f"-interpreter-exec console {quote(command)}", timeout)

    def resume(self, how: str) -> None:
        """continue, step, next or finish: GDB answers ^running and a Stopped note follows."""
        commands = {"continue": "-exec-continue", "step": "-exec-step", "next": "-exec-next",
                    "finish": "-exec-finish"}  # fmt: skip
        self.request(commands[how])

    def resume_until_stopped(
        self, how: str, timeout: float, cancel: threading.Event | None = None
    ) -> Stopped:
        """Resume and wait for the stop that follows (for scripted runs, not the TUI); CANCEL
        set (the machine has ended) ends the wait with GdbError."""
        with self._stopped:
            seen = self._stop_count
        self.resume(how)
        deadline = time.monotonic() + timeout
        with self._stopped:
            while self._stop_count == seen and not self.closed:
                if cancel is not None and cancel.is_set():
                    raise GdbError("the machine ended")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GdbError(f"the machine did not stop within {timeout:g} s after {how}")
                self._stopped.wait(min(left, 0.2))
            if self.last_stop is None or self._stop_count == seen:
                raise GdbError("gdb ended while the machine ran")
            return self.last_stop

    def interrupt(self) -> None:
        self.request("-exec-interrupt")

    def run_for(self, seconds: float, timeout: float = REQUEST_TIMEOUT) -> Stopped:
        """Let the machine run SECONDS, then stop it (or the stop that came first)."""
        with self._stopped:
            seen = self._stop_count
        self.resume("continue")
        with self._stopped:
            self._stopped.wait_for(lambda: self._stop_count > seen or self.closed, seconds)
            early = self._stop_count > seen
        if not early and not self.closed:
            self.interrupt()
        with self._stopped:
            if not self._stopped.wait_for(lambda: self._stop_count > seen or self.closed, timeout):
                raise GdbError(f"the machine did not stop within {timeout:g} s of an interrupt")
            if self.last_stop is None or self._stop_count == seen:
                raise GdbError("gdb ended while the machine ran")
            return self.last_stop

    def read_memory(self, address: int, length: int) -> bytes | None:
        """LENGTH bytes at ADDRESS as the target sees them; None where nothing is readable."""
        if length <= 0:
            return b""
        try:
            payload = self.request(f"-data-read-memory-bytes {address:#x} {length}")
        except GdbError:
            return None
        blocks = payload.get("memory") or []
        data = b""
        for block in blocks:
            if not isinstance(block, dict) or int(str(block.get("offset", "1")), 16) != len(data):
                break
            data += bytes.fromhex(str(block.get("contents", "")))
        return data if data else None

    def break_at(self, where: str) -> int:
        payload = self.request(f"-break-insert {where}")
        number = (payload.get("bkpt") or {}).get("number", "0")
        return int(number) if str(number).isdigit() else 0

    def backtrace(self, limit: int = 32) -> list[Frame]:
        payload = self.request(f"-stack-list-frames 0 {limit - 1}")
        frames = payload.get("stack") or []
        return [frame_from(raw.get("frame", raw), level) for level, raw in enumerate(frames)]

    def locals(self) -> list[Variable]:
        payload = self.request("-stack-list-variables --simple-values")
        found = payload.get("variables") or []
        return [
            Variable(str(v.get("name", "")), str(v.get("value", "…")), str(v.get("type", "")))
            for v in found
            if isinstance(v, dict)
        ]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError, ValueError):
            self._gdb.exit()
        self._reader.join(timeout=2)
        self._release_waiters()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- the reader --

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                records = self._gdb.get_gdb_response(
                    timeout_sec=IDLE_READ, raise_error_on_timeout=False
                )
            except (OSError, ValueError):
                break  # GDB has gone
            for record in records:
                self._take(record)
            if self._gdb.gdb_process is None or self._gdb.gdb_process.poll() is not None:
                break
        self._closed.set()
        self._release_waiters()
        with self._stopped:
            self._stopped.notify_all()

    def _take(self, record: dict[str, Any]) -> None:
        kind, message = record.get("type"), record.get("message")
        if kind == "result" and record.get("token") is not None:
            with self._lock:
                waiter = self._waiters.get(int(record["token"]))
            if waiter is not None:
                waiter.record = record
                waiter.done.set()
            return
        if kind == "notify" and message == "stopped":
            self.running = False
            with self._stopped:
                self.last_stop = stopped_from(record.get("payload") or {})
                self._stop_count += 1
                self._stopped.notify_all()
            self._note(self.last_stop)
        elif kind == "notify" and message == "running":
            self.running = True
            self._note(Running())
        elif kind in ("console", "target", "log") and isinstance(record.get("payload"), str):
            self._note(GdbText(record["payload"].rstrip("\n")))

    def _note(self, note: MiNote) -> None:
        if self.on_note is not None:
            self.on_note(note)

    def _release_waiters(self) -> None:
        with self._lock:
            for waiter in self._waiters.values():
                waiter.done.set()
