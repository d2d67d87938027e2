"""Debug tab: the stub under GDB (workbench.debugger over GDB/MI), presented.

The app starts the run (G); this pane gets the MI session once the stub is released and GDB's
stops as messages. Each stop fetches the backtrace and locals in a worker (MI calls block),
then shows the source around the line, the line marked. Keys, while the tab has focus:
c continue, s step, n next, f finish, p pause; Enter in the field adds a breakpoint.
Values, names and console lines come from the guest: they are shown as plain Text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, RichLog, Static

from workbench.debugger import check_breakpoint
from workbench.errors import WorkbenchError
from workbench.gdb_mi import Frame, GdbError, GdbText, MiNote, MiSession, Running, Stopped, Variable
from workbench.lab.events import Event, Outcome, SerialLine, StubStep
from workbench.tui.formatting import visible

CONSOLE_LINES = 400
SOURCE_CONTEXT = 12  # lines shown above and below the current one
IDLE_BANNER = (
    "Press G to boot ROOT's stub under GDB (the mode of the last boot, local by default): it "
    "stops in boot(), right after the stub's wait, with a breakpoint on the failure path "
    "(console_error). Then c continue, s step, n next, f finish, p pause; a function or "
    "file:line typed below with Enter adds a breakpoint. Another image stops at its entry point."
)


@dataclass(frozen=True)
class StopView:
    """What a stop shows: where, the frames and the locals (fetched off the UI thread)."""

    stop: Stopped
    frames: list[Frame]
    variables: list[Variable]
    source: list[str] | None  # the file's lines, when it is on this machine


def source_excerpt(lines: list[str], line: int, context: int = SOURCE_CONTEXT) -> Text:
    """The lines around LINE (1-based), numbered, the current one marked."""
    first = max(1, line - context)
    last = min(len(lines), line + context)
    text = Text(no_wrap=True)
    for number in range(first, last + 1):
        current = number == line
        marker = "▶" if current else " "
        row = Text(f"{marker}{number:5d}  {visible(lines[number - 1])}\n")
        if current:
            row.stylize("reverse")
        text.append_text(row)
    return text


def read_source(frame: Frame | None) -> list[str] | None:
    if frame is None or not frame.fullname:
        return None
    try:
        return Path(frame.fullname).read_text(errors="replace").splitlines()
    except OSError:
        return None


class DebugPane(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "resume('continue')", "Continue"),
        Binding("s", "resume('step')", "Step"),
        Binding("n", "resume('next')", "Next"),
        Binding("f", "resume('finish')", "Finish"),
        Binding("p", "pause", "Pause"),
    ]

    class SessionReady(Message):
        def __init__(self, session: MiSession) -> None:
            super().__init__()
            self.session = session

    class Note(Message):
        def __init__(self, note: MiNote) -> None:
            super().__init__()
            self.note = note

    class RunEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class Shown(Message):
        def __init__(self, view: StopView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session: MiSession | None = None
        self.state = "idle"  # idle, starting, running, stopped, ended
        self.view: StopView | None = None
        self.gdb_lines: list[str] = []
        self.stub_lines: list[str] = []  # the stub's own lines, kept whole for the run

    def compose(self) -> ComposeResult:
        yield Static(IDLE_BANNER, id="debug-banner", markup=False)
        with Horizontal(id="debug-body"):
            with VerticalScroll(id="debug-source-scroll"):
                yield Static("", id="debug-source", markup=False)
            with Vertical(id="debug-side"):
                yield DataTable(id="debug-stack", cursor_type="row")
                yield DataTable(id="debug-locals", cursor_type="row")
        yield Input(placeholder="break at: function or file:line, Enter", id="debug-break")
        yield RichLog(id="debug-console", max_lines=CONSOLE_LINES, wrap=True, markup=False)

    def on_mount(self) -> None:
        stack = self.query_one("#debug-stack", DataTable)
        stack.add_columns("#", "function", "where")
        local = self.query_one("#debug-locals", DataTable)
        local.add_columns("name", "value", "type")

    # -- driven by the app --

    def start(self, description: str) -> None:
        self.session = None
        self.view = None
        self.gdb_lines.clear()
        self.stub_lines.clear()
        self.state = "starting"
        self.query_one("#debug-console", RichLog).clear()
        self.query_one("#debug-source", Static).update("")
        self.query_one("#debug-stack", DataTable).clear()
        self.query_one("#debug-locals", DataTable).clear()
        self._banner(f"STARTING  {description}: waiting for the stub to print its base")

    def finish(self, outcome: Outcome) -> None:
        self.state = "ended"
        self.session = None
        verdict = "BOOTED" if outcome.ok else outcome.kind.upper()
        self._banner(f"ENDED  {verdict}  {outcome.reason}  ({outcome.seconds:.1f} s)")

    @property
    def banner_text(self) -> str:
        return str(self.query_one("#debug-banner", Static).content)

    # -- messages from the run's threads --

    def on_debug_pane_session_ready(self, message: SessionReady) -> None:
        message.stop()
        self.session = message.session
        self.state = "stopped"
        self._banner(
            "STOPPED  the stub is released and waits for you: add breakpoints, then c "
            "(breakpoint 1: console_error, the failure path)"
        )
        if message.session.last_stop is not None:
            self.fetch_view(message.session.last_stop)

    def on_debug_pane_note(self, message: Note) -> None:
        message.stop()
        note = message.note
        if isinstance(note, Running):
            if self.state == "stopped":
                self.state = "running"
                self._banner("RUNNING  (p pauses)")
        elif isinstance(note, Stopped):
            if self.session is None:
                return  # GDB's own stop while connecting, before the stub is released
            self.state = "stopped"
            where = note.frame.where if note.frame else "an unknown place"
            self._banner(f"STOPPED  {note.reason} in {where}")
            self.fetch_view(note)
        elif isinstance(note, GdbText) and note.text.strip():
            self.gdb_lines.append(note.text)
            self.query_one("#debug-console", RichLog).write(Text(f"gdb: {visible(note.text)}"))

    def on_debug_pane_run_event(self, message: RunEvent) -> None:
        message.stop()
        event = message.event
        if isinstance(event, SerialLine):
            self.query_one("#debug-console", RichLog).write(Text(visible(event.text)))
        elif isinstance(event, StubStep):
            self.stub_lines.append(event.raw)
        elif isinstance(event, Outcome):
            self.finish(event)

    def on_debug_pane_shown(self, message: Shown) -> None:
        message.stop()
        self.view = view = message.view
        stack = self.query_one("#debug-stack", DataTable)
        stack.clear()
        for frame in view.frames:
            place = f"{frame.file}:{frame.line}" if frame.file and frame.line else frame.address
            stack.add_row(str(frame.level), Text(frame.function), Text(place))
        local = self.query_one("#debug-locals", DataTable)
        local.clear()
        for variable in view.variables:
            local.add_row(Text(variable.name), Text(visible(variable.value)), Text(variable.type))
        here = view.stop.frame
        source = self.query_one("#debug-source", Static)
        if view.source is not None and here is not None and here.line:
            source.update(source_excerpt(view.source, here.line))
        else:
            source.update(Text(f"no source for {here.where if here else 'this place'}"))

    # -- GDB calls: they block, so they run in workers --

    @work(thread=True, exclusive=True, group="debug-view", exit_on_error=False)
    def fetch_view(self, stop: Stopped) -> None:
        session = self.session
        if session is None:
            return
        try:
            frames = session.backtrace()
            variables = session.locals()
        except WorkbenchError:
            frames, variables = [], []
        view = StopView(stop, frames, variables, read_source(stop.frame))
        self.post_message(self.Shown(view))

    def action_resume(self, how: str) -> None:
        if self.session is None or self.state != "stopped":
            self.app.notify("The stub is not stopped in GDB.", severity="warning")
            return
        self.state = "running"
        self._banner(f"RUNNING  {how}…")
        self._call(lambda session: session.resume(how))

    def action_pause(self) -> None:
        if self.session is None or self.state != "running":
            self.app.notify("Nothing to pause.", severity="warning")
            return
        self._call(lambda session: session.interrupt())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        where = event.value.strip()
        try:
            check_breakpoint(where)
        except WorkbenchError as error:
            self.app.notify(str(error), severity="warning")
            return
        if self.session is None:
            self.app.notify("Start a debug boot first (G).", severity="warning")
            return
        event.input.value = ""
        self._add_breakpoint(where)

    @work(thread=True, group="debug-call", exit_on_error=False)
    def _add_breakpoint(self, where: str) -> None:
        session = self.session
        if session is None:
            return
        try:
            number = session.break_at(where)
        except GdbError as error:
            self.app.call_from_thread(self.app.notify, f"break {where}: {error}", severity="error")
            return
        self.app.call_from_thread(self.app.notify, f"Breakpoint {number} at {where}.")

    @work(thread=True, group="debug-call", exit_on_error=False)
    def _call(self, call: Callable[[MiSession], None]) -> None:
        session = self.session
        if session is None:
            return
        try:
            call(session)
        except GdbError as error:
            self.app.call_from_thread(self.app.notify, f"gdb: {error}", severity="error")

    def _banner(self, text: str) -> None:
        self.query_one("#debug-banner", Static).update(visible(text))
