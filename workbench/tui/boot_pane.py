"""Boot pane: outcome banner, timeline of stub steps, file transfers, and the live serial console.

Events arrive from the boot worker thread as `BootPane.RunEvent` messages (post_message is
thread-safe), so every widget change happens on the app's thread. File names, console lines and
reasons come from the stub, the servers and the guest: they reach the widgets as plain Text
(never markup), their control characters escaped.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Label, ProgressBar, RichLog, Static

from workbench.lab.events import (
    Event,
    LabNote,
    Outcome,
    Reset,
    SerialLine,
    StubStep,
    Transfer,
)
from workbench.textsafe import printable
from workbench.tui.formatting import human_size, visible

SERIAL_LINES = 5000

OUTCOME_TITLES = {
    "booted": "BOOTED",
    "stub-error": "STUB ERROR",
    "kernel-failed": "KERNEL FAILED",
    "firmware-refused": "FIRMWARE REFUSED",
    "firmware-failed": "FIRMWARE FAILED",
    "timeout": "TIMED OUT",
    "reset-loop": "RESET LOOP",
    "qemu-failed": "QEMU FAILED",
    "lab-failed": "LAB FAILED",
    "interrupted": "STOPPED",
    "exited": "MACHINE EXITED",
    "bad-input": "BAD INPUT",
    "missing-tool": "MISSING TOOL",
    "internal-error": "INTERNAL ERROR",
    "pcr-mismatch": "PCR MISMATCH",
    "shim-refused": "SHIM REFUSED",
}


def step_detail(step: StubStep) -> str:
    """The interesting part of a `stub: ` line, without the prefix."""
    return step.raw.removeprefix("stub:").strip()


class TransferRow(Horizontal):
    """One file the lab served (TFTP or HTTP): name, a progress bar, bytes and rate."""

    def __init__(self, filename: str) -> None:
        super().__init__(classes="transfer")
        self.filename = filename
        self.latest: Transfer | None = None

    def compose(self) -> ComposeResult:
        yield Label(printable(self.filename), classes="transfer-name", markup=False)
        yield ProgressBar(show_eta=False, show_percentage=True, classes="transfer-bar")
        yield Label("", classes="transfer-info", markup=False)

    def update_from(self, event: Transfer) -> None:
        self.latest = event
        if self.is_mounted:
            self._apply()

    def on_mount(self) -> None:
        self.call_after_refresh(self._apply)

    def _apply(self) -> None:
        event = self.latest
        bars = self.query(ProgressBar)
        if event is None or not bars:
            return
        bar = bars.first()
        info = self.query_one(".transfer-info", Label)
        if event.total:
            bar.update(total=event.total, progress=event.bytes)
        rate = event.bytes / event.seconds if event.seconds > 0 else 0.0
        amount = human_size(event.bytes)
        # What the client and server agreed to, and how much had to be sent again.
        terms = f" · blksize {event.blksize} · window {event.window}" if event.blksize else ""
        if event.retransmits:
            terms += f" · {event.retransmits} resent"
        if event.state == "probe":
            info.update("size probe")
        elif event.state in ("failed", "refused"):
            info.update(printable(f"{event.state}: {event.error or ''}".strip()))
            self.add_class("-failed")
        elif event.state == "done":
            bar.update(total=max(event.bytes, 1), progress=max(event.bytes, 1))
            info.update(f"{amount} {human_size(int(rate))}/s done{terms}")
        else:
            info.update(f"{amount} {human_size(int(rate))}/s{terms}")


class BootPane(Vertical):
    class RunEvent(Message):
        """One event of the running boot, carried from the worker thread."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.outcome: Outcome | None = None
        self._transfers: dict[str, TransferRow] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            "Press b to boot ROOT from a local ESP, n to netboot it (TFTP), h for UEFI HTTP "
            "Boot; i and I do the network boots over IPv6.",
            id="boot-banner",
            markup=False,
        )
        yield DataTable(id="boot-timeline", cursor_type="none")
        yield VerticalScroll(id="boot-transfers")
        yield RichLog(id="boot-serial", max_lines=SERIAL_LINES, wrap=True, markup=False)

    def on_mount(self) -> None:
        timeline = self.query_one("#boot-timeline", DataTable)
        timeline.add_column("t", key="t")
        timeline.add_column("step", key="step")

    # -- driven by the app --

    def start(self, description: str) -> None:
        self.outcome = None
        self._transfers.clear()
        self.query_one("#boot-transfers").remove_children()
        self.query_one("#boot-timeline", DataTable).clear()
        self.query_one("#boot-serial", RichLog).clear()
        self.set_class(False, "-ok", "-failed", "-transfers")
        self.add_class("-running")
        self._banner(f"RUNNING  {description}  (s or Esc stops)")

    def on_boot_pane_run_event(self, message: RunEvent) -> None:
        message.stop()
        event = message.event
        if isinstance(event, SerialLine):
            self.query_one("#boot-serial", RichLog).write(visible(event.text))
        elif isinstance(event, StubStep):
            self._timeline(event.t, step_detail(event))
        elif isinstance(event, Transfer):
            self._transfer(event)
        elif isinstance(event, Reset):
            self._timeline(event.t, "machine reset")
        elif isinstance(event, LabNote):
            self._timeline(event.t, event.text)
        elif isinstance(event, Outcome):
            self.finish(event)

    def finish(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.remove_class("-running")
        self.set_class(outcome.ok, "-ok")
        self.set_class(not outcome.ok, "-failed")
        title = OUTCOME_TITLES.get(outcome.kind, outcome.kind.upper())
        resets = f", {outcome.resets} reset(s)" if outcome.resets else ""
        banner = f"{title}  {outcome.reason}  ({outcome.seconds:.1f} s{resets})"
        if outcome.pcrs:
            # Predicted against measured, bank by bank: what a sealed secret would see.
            for bank, values in outcome.pcrs["predicted"].items():
                measured = outcome.pcrs["measured"].get(bank, {}).get("11", "-")
                mark = "=" if measured == values["11"] else "≠"
                predicted = values["11"][:24]
                banner += f"\nPCR 11 {bank}: predicted {predicted}… {mark} "
                banner += f"measured {measured[:24]}…"
        self._banner(banner)

    @property
    def banner_text(self) -> str:
        return str(self.query_one("#boot-banner", Static).content)

    @property
    def timeline_steps(self) -> list[str]:
        table = self.query_one("#boot-timeline", DataTable)
        return [str(table.get_cell_at(Coordinate(row, 1))) for row in range(table.row_count)]

    # -- pieces --

    def _banner(self, text: str) -> None:
        lines = text.split("\n")  # the banner's own line breaks stay
        self.query_one("#boot-banner", Static).update("\n".join(map(visible, lines)))

    def _timeline(self, t: float, text: str) -> None:
        table = self.query_one("#boot-timeline", DataTable)
        table.add_row(f"{t:6.2f}", Text(visible(text)))
        table.move_cursor(row=table.row_count - 1)
        table.scroll_end(animate=False)

    def _transfer(self, event: Transfer) -> None:
        row = self._transfers.get(event.filename)
        if row is None:
            row = TransferRow(event.filename)
            self._transfers[event.filename] = row
            row.latest = event
            self.add_class("-transfers")
            self.query_one("#boot-transfers").mount(row)
            return
        row.update_from(event)
