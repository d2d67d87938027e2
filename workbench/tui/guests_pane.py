"""Guests tab (`workbench open STUB --guests N`): N machines netbooting at once, side by side.

`boot --guests N`'s run (workbench.lab.boot) tags each event with its guest; this pane gives
every guest a column (its outcome banner, its `stub:` steps and its console) and the lab's own
lines (servers, transfers no guest claims) a shared log below. Plain Text throughout: the
lines come from the guests and the network.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import RichLog, Static

from workbench.lab.events import Event, LabNote, Outcome, SerialLine, StubStep, Transfer
from workbench.tui.boot_pane import OUTCOME_TITLES, step_detail
from workbench.tui.formatting import visible

SERIAL_LINES = 2000
LAB_LINES = 500


class GuestColumn(Vertical):
    def __init__(self, index: int) -> None:
        super().__init__(classes="guest-column")
        self.index = index
        self.outcome: Outcome | None = None
        self.steps: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(f"g{self.index}: waiting", classes="guest-banner", markup=False)
        yield RichLog(classes="guest-serial", max_lines=SERIAL_LINES, wrap=True, markup=False)

    @property
    def banner_text(self) -> str:
        return str(self.query_one(".guest-banner", Static).content)

    def banner(self, text: str) -> None:
        self.query_one(".guest-banner", Static).update(visible(text))

    def take(self, event: Event) -> None:
        if isinstance(event, SerialLine):
            self.query_one(".guest-serial", RichLog).write(Text(visible(event.text)))
        elif isinstance(event, StubStep):
            self.steps.append(step_detail(event))
            if self.outcome is None:
                self.banner(f"g{self.index}: {step_detail(event)}")
        elif isinstance(event, Outcome):
            self.outcome = event
            title = OUTCOME_TITLES.get(event.kind, event.kind.upper())
            self.set_class(event.ok, "-ok")
            self.set_class(not event.ok, "-failed")
            self.banner(f"g{self.index}: {title} after {event.seconds:.1f} s: {event.reason}")


class GuestsPane(Vertical):
    class RunEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, guests: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.guests = guests
        self.summary: Outcome | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            f"n or h netboots ROOT on {self.guests} guests at once (TFTP, HTTP Boot), one lab, "
            "one server; each guest's console in its column.",
            id="guests-banner",
            markup=False,
        )
        with Horizontal(id="guests-columns"):
            for index in range(self.guests):
                yield GuestColumn(index)
        yield RichLog(id="guests-lab", max_lines=LAB_LINES, wrap=True, markup=False)

    @property
    def columns(self) -> list[GuestColumn]:
        return list(self.query(GuestColumn))

    @property
    def banner_text(self) -> str:
        return str(self.query_one("#guests-banner", Static).content)

    def start(self, description: str) -> None:
        self.summary = None
        for column in self.columns:
            column.outcome = None
            column.steps.clear()
            column.set_class(False, "-ok", "-failed")
            column.query_one(".guest-serial", RichLog).clear()
            column.banner(f"g{column.index}: starting")
        self.query_one("#guests-lab", RichLog).clear()
        self.query_one("#guests-banner", Static).update(visible(f"RUNNING  {description}"))

    def finish(self, outcome: Outcome) -> None:
        self.summary = outcome
        verdict = "BOOTED" if outcome.ok else "FAILED"
        text = f"{verdict}  {outcome.reason}  ({outcome.seconds:.1f} s)"
        self.query_one("#guests-banner", Static).update(visible(text))

    def on_guests_pane_run_event(self, message: RunEvent) -> None:
        message.stop()
        event = message.event
        columns = self.columns
        if event.guest is not None and 0 <= event.guest < len(columns):
            columns[event.guest].take(event)
            if not isinstance(event, Transfer | LabNote):
                return
        if isinstance(event, Transfer) and event.state not in ("progress", "probe"):
            who = f"g{event.guest}" if event.guest is not None else event.client
            line = f"[{event.protocol}] {event.state} {event.filename} ({who})"
            self.query_one("#guests-lab", RichLog).write(Text(visible(line)))
        elif isinstance(event, LabNote):
            self.query_one("#guests-lab", RichLog).write(Text(visible(f"[lab] {event.text}")))
