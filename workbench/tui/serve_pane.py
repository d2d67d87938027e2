"""Serve tab (`workbench open STUB --serve IF`): the boot server's machines, one row each.

workbench.serve_clients.BootServer does the serving (ProxyDHCP, TFTP, HTTP, syslog) and keeps
a ClientTable; this pane shows a row per machine (MAC, address, architecture, the offer, each
file's progress, the stub's last line) and the server's event lines. Rows are summarised into
plain strings on the server's threads, so the widgets never read a row being changed.
Everything shown came from the network: plain Text, control characters escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, RichLog, Static

from workbench.lab.pxe import arch_name
from workbench.serve_clients import FileRow, Machine
from workbench.textsafe import printable
from workbench.tui.formatting import human_size

LOG_LINES = 2000
COLUMNS = ("machine", "address", "arch", "offer", "files", "stub says", "errors")


def file_progress(row: FileRow) -> str:
    """`vmlinuz 45% 12.3 MB/s`, `initrd.img done`, `x failed: why`."""
    name = row.name.rsplit("/", 1)[-1]
    rate = f" {human_size(int(row.rate))}/s" if row.rate else ""
    if row.state == "done":
        return f"{name} done{rate}"
    if row.state in ("failed", "refused"):
        return f"{name} {row.state}: {row.error or ''}".rstrip(": ")
    if row.total:
        return f"{name} {100 * row.bytes // max(row.total, 1)}%{rate}"
    return f"{name} {human_size(row.bytes)}{rate}"


@dataclass(frozen=True)
class MachineRow:
    key: str
    cells: tuple[str, ...]

    @classmethod
    def of(cls, machine: Machine) -> MachineRow:
        arch = arch_name(machine.arch) if machine.arch is not None else "-"
        files = "; ".join(file_progress(row) for row in list(machine.files.values()))
        last = machine.console[-1] if machine.console else ""
        cells = (machine.mac or "-", machine.address or "-", arch, machine.offer or "-",
                 files or "-", last or "-", str(machine.errors))  # fmt: skip
        return cls(machine.key, tuple(printable(cell) for cell in cells))


class ServePane(Vertical):
    class Changed(Message):
        def __init__(self, row: MachineRow) -> None:
            super().__init__()
            self.row = row

    class Output(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def __init__(self, interface: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.interface = interface
        self.rows: dict[str, MachineRow] = {}

    def compose(self) -> ComposeResult:
        yield Static(f"Starting the boot server on {self.interface}…", id="serve-banner",
                     markup=False)  # fmt: skip
        yield DataTable(id="serve-machines", cursor_type="row")
        yield RichLog(id="serve-log", max_lines=LOG_LINES, wrap=True, markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#serve-machines", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)

    def show_banner(self, text: str) -> None:
        self.query_one("#serve-banner", Static).update(printable(text))

    @property
    def banner_text(self) -> str:
        return str(self.query_one("#serve-banner", Static).content)

    def on_serve_pane_changed(self, message: Changed) -> None:
        message.stop()
        row = message.row
        table = self.query_one("#serve-machines", DataTable)
        if row.key in self.rows:
            for column, cell in zip(COLUMNS, row.cells, strict=True):
                table.update_cell(row.key, column, Text(cell))
        else:
            table.add_row(*(Text(cell) for cell in row.cells), key=row.key)
        self.rows[row.key] = row

    def on_serve_pane_output(self, message: Output) -> None:
        message.stop()
        self.query_one("#serve-log", RichLog).write(Text(printable(message.line)))
