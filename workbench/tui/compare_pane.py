"""The Compare tab (`workbench open A --compare B`): what `workbench diff` says, in the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.commands.diff import human_lines
from workbench.compare import Comparison


class ComparePane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("Comparing...", id="compare-text", markup=False)

    def show(self, comparison: Comparison) -> None:
        verdict = "the same" if comparison.same else "different"
        text = "\n".join([f"The two stubs are {verdict}.", "", *human_lines(comparison)])
        self.query_one("#compare-text", Static).update(text)

    def show_message(self, message: str) -> None:
        self.query_one("#compare-text", Static).update(message)

    @property
    def text(self) -> str:
        return str(self.query_one("#compare-text", Static).content)
