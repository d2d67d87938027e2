"""The Compare tab (`workbench open A --compare B`): what `workbench diff` says, in the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.commands.diff import human_lines
from workbench.compare import Comparison
from workbench.tui.lazy import PaintsWhenShown


class ComparePane(PaintsWhenShown, VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = "Comparing..."

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="compare-text", markup=False)

    def show(self, comparison: Comparison) -> None:
        verdict = "the same" if comparison.same else "different"
        self.show_message(
            "\n".join([f"The two stubs are {verdict}.", "", *human_lines(comparison)])
        )

    def show_message(self, message: str) -> None:
        self.text = message
        self.paint(lambda: self.query_one("#compare-text", Static).update(message))
