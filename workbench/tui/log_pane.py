"""The Log tab (`workbench open STUB --log FILE`): what `workbench explain` says of a console
log captured on any machine, in the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.tui.lazy import PaintsWhenShown


class LogPane(PaintsWhenShown, VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = "Reading the log..."

    def compose(self) -> ComposeResult:
        # Plain text: a log from another machine may hold anything, square brackets included.
        yield Static(self.text, id="log-text", markup=False)

    def show_message(self, message: str) -> None:
        self.text = message
        self.paint(lambda: self.query_one("#log-text", Static).update(message))
