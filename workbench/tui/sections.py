"""Sections pane: the section table and the decoded value of the highlighted section."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from workbench.tui.formatting import TEXT_LIMIT, decode_section, human_size
from workbench.tui.model import LoadedStub

SHA_PREFIX = 12


class SectionsPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._stub: LoadedStub | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="sections-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="section-detail-scroll"):
            yield Static("", id="section-detail", markup=False)

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
                section.name,
                f"{section.virtual_address:#x}",
                f"{section.virtual_size:#x}",
                f"{section.raw_size:#x}",
                row.sha256[:SHA_PREFIX],
                key=str(index),
            )
        if stub.rows:
            table.move_cursor(row=min(previous, len(stub.rows) - 1))
            self._show_detail(table.cursor_row)

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
            f"  flags {section.characteristics:#010x}\nsha256 {row.sha256}\n\n"
        )
        self.query_one("#section-detail", Static).update(header + rendering)

    @property
    def detail_text(self) -> str:
        return str(self.query_one("#section-detail", Static).content)
