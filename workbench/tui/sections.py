"""Sections pane: the section table and the decoded value of the highlighted section.

Section names come from the file: every one reaches a widget as plain Text, never as markup.
"""

from __future__ import annotations

from rich.cells import cell_len, chop_cells
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Log

from workbench.tui.formatting import TEXT_LIMIT, decode_section, human_size
from workbench.tui.lazy import PaintsWhenShown
from workbench.tui.model import LoadedStub

SHA_PREFIX = 12
HASHING = "hashing…"  # shown until the hashing worker is done


def short_digest(sha256: str | None) -> Text:
    if sha256 is None:
        return Text(HASHING, style="dim")
    return Text(sha256[:SHA_PREFIX])


def fold(text: str, width: int) -> list[str]:
    """Lines cut to `width` cells, every character kept (a command line is shown exactly)."""
    lines: list[str] = []
    for line in text.split("\n"):
        if width <= 0 or cell_len(line) <= width:
            lines.append(line)
        else:
            lines += chop_cells(line, width)
    return lines


class SectionDetail(Log):
    """The decoded value of a section. A Log renders only the lines on screen (a hex dump has
    257) and shows them as plain text; folded to the width, so nothing hides to the right."""

    def __init__(self, **kwargs) -> None:
        super().__init__(auto_scroll=False, **kwargs)
        self.text = ""
        self._folded_to = 0  # the width the lines were folded to

    def show(self, text: str) -> None:
        self.text = text
        self._fill()

    def _fill(self) -> None:
        self._folded_to = self.scrollable_content_region.width
        lines = fold(self.text, self._folded_to)
        # In one piece (write() refreshes line by line); write_lines drops empty lines.
        self.clear().write_lines([line or " " for line in lines], scroll_end=False)
        self.scroll_home(animate=False, immediate=True)

    def on_resize(self, _event: events.Resize) -> None:
        # Hidden with its tab, the widget has no width: fold again only for a new real width.
        width = self.scrollable_content_region.width
        if self.text and width and width != self._folded_to:
            self._fill()


class SectionsPane(PaintsWhenShown, Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._stub: LoadedStub | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="sections-table", cursor_type="row", zebra_stripes=True)
        yield SectionDetail(id="section-detail")

    def on_mount(self) -> None:
        table = self.query_one("#sections-table", DataTable)
        table.add_column("name", key="name")
        table.add_column("VA", key="va")
        table.add_column("vsize", key="vsize")
        table.add_column("raw", key="raw")
        table.add_column("sha256", key="sha256")

    def show(self, stub: LoadedStub) -> None:
        self._stub = stub
        table = self.query_one("#sections-table", DataTable)
        previous = table.cursor_row
        table.clear()
        for index, row in enumerate(stub.rows):
            section = row.section
            table.add_row(
                Text(section.name),
                f"{section.virtual_address:#x}",
                f"{section.virtual_size:#x}",
                f"{section.raw_size:#x}",
                short_digest(row.sha256),
                key=str(index),
            )
        if stub.rows:
            table.move_cursor(row=min(previous, len(stub.rows) - 1))
            self._show_detail(table.cursor_row)

    def show_digests(self, stub: LoadedStub) -> None:
        """The hashing worker is done: fill in the digests, nothing else moves."""
        self._stub = stub

        def draw() -> None:
            table = self.query_one("#sections-table", DataTable)
            for index, row in enumerate(stub.rows):
                table.update_cell(str(index), "sha256", short_digest(row.sha256))
            if stub.rows:
                self._show_detail(table.cursor_row)

        self.paint(draw)

    def select(self, name: str) -> bool:
        """Highlight the first section with this name."""
        if self._stub is None:
            return False
        for index, row in enumerate(self._stub.rows):
            if row.section.name == name:
                self.query_one("#sections-table", DataTable).move_cursor(row=index)
                self._show_detail(index)
                return True
        return False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, index: int) -> None:
        if self._stub is None or not 0 <= index < len(self._stub.rows):
            return
        row = self._stub.rows[index]
        section = row.section
        # Only what is shown is read: the text limit, or the head of a big section.
        head = self._stub.section_head(section, TEXT_LIMIT)
        kind, rendering = decode_section(section.name, head, section.data_size)
        header = (
            f"{section.name}  {kind}, {human_size(section.data_size)}"
            f"  flags {section.characteristics:#010x}\nsha256 {row.sha256 or HASHING}\n\n"
        )
        self.query_one(SectionDetail).show(header + rendering)

    @property
    def detail_text(self) -> str:
        return self.query_one(SectionDetail).text
