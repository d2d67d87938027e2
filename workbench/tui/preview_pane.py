"""Preview pane: what the stub will do from the local ESP, by TFTP and by HTTP, side by side;
the IPv6 network boots below them. Paths and reasons are plain Text, never markup."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from workbench.preview import MODE_TITLES, MODES
from workbench.tui.formatting import human_size
from workbench.tui.lazy import PaintsWhenShown

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
            if item.arch:
                text.append(f", {item.arch}")
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


def note_text(preview: Any, note: str) -> Text:
    """What is previewed, the stub's architecture and the kernel's, and a mix of the two."""
    kernel = f", {preview.kernel_arch} kernel" if preview.kernel_arch else ""
    text = Text(f"{note} Arch: {preview.arch} stub{kernel}.")
    if preview.arch_problem:
        text.append(f"\n! {preview.arch_problem}", style="bold red")
    return text


class PreviewPane(PaintsWhenShown, VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.texts: dict[str, str | Text] = {}  # what each Static shows, by name

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-note", markup=False)
        with Horizontal(id="preview-columns", classes="preview-row"):
            for mode in MODES[:3]:
                yield Static("", id=f"preview-{mode}", classes="preview-column", markup=False)
        with Horizontal(id="preview-columns6", classes="preview-row"):
            for mode in MODES[3:]:
                yield Static("", id=f"preview-{mode}", classes="preview-column", markup=False)

    def show(self, preview: Any, note: str) -> None:
        texts: dict[str, str | Text] = {"note": note_text(preview, note)}
        for mode in MODES:
            texts[mode] = render_mode(MODE_TITLES[mode], getattr(preview, mode))
        self._set(texts)

    def show_message(self, note: str) -> None:
        self._set({"note": note, **dict.fromkeys(MODES, "")})

    def _set(self, texts: dict[str, str | Text]) -> None:
        self.texts = texts

        def draw() -> None:
            for name, text in texts.items():
                self.query_one(f"#preview-{name}", Static).update(text)

        self.paint(draw)

    @property
    def text(self) -> str:
        names = ("note", *MODES)
        return "\n".join(str(self.texts.get(name, "")) for name in names)
