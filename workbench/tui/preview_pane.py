"""Preview pane: what the stub will do from the local ESP, by TFTP and by HTTP, side by side;
the IPv6 network boots below them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from workbench.preview import MODE_TITLES, MODES
from workbench.tui.formatting import human_size

HASH_STYLES = {
    "ok": "green",
    "embedded": "green",
    "mismatch": "bold red",
    "missing": "bold red",
    "unchecked": "yellow",
}


def render_mode(title: str, mode: Any) -> Text:
    """One column: each file the stub looks for, then the predicted outcome."""
    text = Text(title, style="bold underline")
    text.append("\n")
    for item in mode.files:
        text.append(f"\n{item.role}", style="bold")
        text.append(f"\n  {item.looked_for}\n")
        if item.exists:
            text.append(f"  present, {human_size(item.size)}")
        else:
            text.append("  not found", style="bold red")
        status = item.hash_status
        text.append("  sha256 ")
        text.append(status, style=HASH_STYLES.get(status, ""))
        text.append("\n")
        if item.note:
            text.append(f"  {item.note}\n", style="dim")
    text.append("\n")
    if mode.outcome == "boots":
        text.append("→ boots", style="bold green")
    else:
        text.append("→ fails", style="bold red")
    if mode.reason:
        text.append(f": {mode.reason}")
    return text


class PreviewPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("", id="preview-note")
        with Horizontal(id="preview-columns", classes="preview-row"):
            for mode in MODES[:3]:
                yield Static("", id=f"preview-{mode}", classes="preview-column")
        with Horizontal(id="preview-columns6", classes="preview-row"):
            for mode in MODES[3:]:
                yield Static("", id=f"preview-{mode}", classes="preview-column")

    def show(self, preview: Any, note: str) -> None:
        self.query_one("#preview-note", Static).update(note)
        for mode in MODES:
            column = render_mode(MODE_TITLES[mode], getattr(preview, mode))
            self.query_one(f"#preview-{mode}", Static).update(column)

    def show_message(self, note: str) -> None:
        self.query_one("#preview-note", Static).update(note)
        for mode in MODES:
            self.query_one(f"#preview-{mode}", Static).update("")

    @property
    def text(self) -> str:
        names = ("note", *MODES)
        return "\n".join(str(self.query_one(f"#preview-{name}", Static).content) for name in names)
