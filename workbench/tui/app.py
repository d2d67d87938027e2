"""`workbench open`: the Textual app. It presents the services and reimplements none of them."""

from __future__ import annotations

import asyncio
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Header, Input, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from workbench.arch import Arch, by_machine
from workbench.compare import Comparison, compare
from workbench.debugger import DebugOptions, DebugRequest, DebugRun
from workbench.edits import Signing, write_stub
from workbench.errors import InternalError, LabFailure, MissingTool, WorkbenchError
from workbench.explain import explain_log, render
from workbench.gdb_mi import MiNote, MiSession
from workbench.keys import Readiness, prepare_secure_boot_vars, secure_boot_readiness
from workbench.lab.boot import BootRequest, BootRun
from workbench.lab.events import Event, Outcome, OutcomeKind
from workbench.lookup import tree_of
from workbench.pe.edit import rewrite_sections
from workbench.preview import Preview, preview
from workbench.tui import rehash
from workbench.tui.boot_pane import BootPane
from workbench.tui.compare_pane import ComparePane
from workbench.tui.debug_pane import DebugPane
from workbench.tui.dialogs import ChoiceDialog, HelpScreen
from workbench.tui.edit_pane import EditPane
from workbench.tui.editing import FIELD_LABELS, EditSession, Field
from workbench.tui.footer import SteadyFooter
from workbench.tui.formatting import human_size, short_path
from workbench.tui.guests_pane import GuestsPane
from workbench.tui.lazy import PaintsWhenShown
from workbench.tui.log_pane import LogPane
from workbench.tui.model import Hashes, LoadedStub, hash_stub, load_stub, stub_in_root
from workbench.tui.overview import OverviewFacts, OverviewPane
from workbench.tui.pcr_job import predict_pcr11
from workbench.tui.preview_pane import PreviewPane
from workbench.tui.priority import in_background
from workbench.tui.recovery import write_recovery
from workbench.tui.sections import SectionsPane
from workbench.tui.serve_pane import MachineRow, ServePane

TABS = ("overview", "sections", "edit", "preview", "boot")
PREVIEW_DELAY = 0.3  # seconds of no typing before the preview is recomputed
BOOT_LABELS = {"local": "local ESP", "net": "netboot", "http": "HTTP Boot"}


def run_boot(run: BootRun, keys: Path | None = None, vars_store: Path | None = None) -> Outcome:
    """The boot worker's body: a refused request becomes an outcome with the reason.

    With keys, first enroll them into the run's variable store for the Secure Boot firmware.
    """
    try:
        if keys is not None and vars_store is not None:
            prepare_secure_boot_vars(keys, vars_store)
        return run.run()
    except WorkbenchError as error:
        return Outcome(ok=False, kind=outcome_kind(error), reason=str(error), seconds=0.0)


def outcome_kind(error: WorkbenchError) -> OutcomeKind:
    """A run refused before it started is labelled by the kind of error, not as a lab failure."""
    if isinstance(error, MissingTool):
        return "missing-tool"
    if isinstance(error, LabFailure):
        return "lab-failed"
    if isinstance(error, InternalError):
        return "internal-error"
    return "bad-input"


class WorkbenchApp(App[None]):
    TITLE = "Stub Workbench"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Textual binds Ctrl+C to a hint; here it quits as in any terminal program, and like
        # q and Ctrl+Q asks first when there are unsaved edits.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("b", "boot('local')", "Boot"),
        Binding("n", "boot('net')", "Netboot"),
        Binding("h", "boot('http')", "HTTP boot"),
        Binding("i", "boot('net', False, True)", "IPv6 netboot", show=False),
        Binding("I", "boot('http', False, True)", "IPv6 HTTP boot", show=False),
        Binding("B", "boot('local', True)", "SB boot", show=False),
        Binding("N", "boot('net', True)", "SB netboot", show=False),
        Binding("H", "boot('http', True)", "SB HTTP boot", show=False),
        Binding("S", "boot_shim", "Boot through shim", show=False),
        Binding("D", "debug_boot", "Debug boot", show=False),
        Binding("G", "debug_in_tab", "Debug in the TUI", show=False),
        Binding("s", "stop_boot", "Stop", show=False),
        # The same with keys a text field never takes: they work wherever the focus is.
        Binding("f5", "boot('local')", "Boot", show=False, priority=True),
        Binding("f6", "boot('net')", "Netboot", show=False, priority=True),
        Binding("f7", "boot('http')", "HTTP boot", show=False, priority=True),
        Binding("f9", "boot('net', False, True)", "IPv6 netboot", show=False, priority=True),
        Binding("f10", "boot('http', False, True)", "IPv6 HTTP", show=False, priority=True),
        Binding("shift+f5", "boot('local', True)", "SB boot", show=False, priority=True),
        Binding("shift+f6", "boot('net', True)", "SB netboot", show=False, priority=True),
        Binding("shift+f7", "boot('http', True)", "SB HTTP boot", show=False, priority=True),
        Binding("f8", "stop_boot", "Stop", show=False, priority=True),
        Binding("escape", "escape", "Stop/leave", show=False),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+z", "undo", "Undo", priority=True),
        Binding("ctrl+r", "rehash", "Rehash", priority=True),
        *(
            Binding(str(number), f"show_tab('{tab}')", tab.title(), show=False)
            for number, tab in enumerate((*TABS, "compare", "log", "debug", "serve"), start=1)
        ),
    ]

    def __init__(
        self,
        stub_path: Path,
        *,
        root: Path | None = None,
        keys: Path | None = None,
        expect: str | None = None,
        boot_timeout: float = 120.0,
        compare: Path | None = None,
        tpm: bool = False,
        log: Path | None = None,
        serve: str | None = None,
        guests: int = 1,
    ) -> None:
        super().__init__()
        self.guests = guests  # more than 1: n and h netboot that many machines at once
        self.serve_interface = serve
        self._stop_serving = threading.Event()  # set: the boot server's worker stops it
        self.tpm = tpm
        self.pcr11: str | None = None  # the saved stub's predicted PCR 11 (sha256)
        self.pcr11_sections: tuple[str, ...] = ()
        self.compare_path = Path(compare) if compare is not None else None
        self.log_path = Path(log) if log is not None else None
        self.stub_path = Path(stub_path)
        self.root = Path(root) if root is not None else tree_of(self.stub_path)
        self.root_given = root is not None
        self.keys = Path(keys) if keys is not None else None
        self.secure_boot_dir: tempfile.TemporaryDirectory[str] | None = None
        self.boot_run_vars_dir: str | None = None  # the last Secure Boot run's store, for checks
        self.expect = expect
        self.boot_timeout = boot_timeout
        # Opened before the screen exists so a bad file is an error, not an empty app.
        self.stub: LoadedStub = load_stub(self.stub_path)
        self.session = EditSession.from_info(self.stub.info)
        self.readiness: Readiness | None = None
        self.preview_problems: list[str] = []
        self.boot_run: BootRun | None = None
        self.boot_worker: Worker[Outcome] | None = None
        self.last_outcome: Outcome | None = None
        self._preview_timer: Timer | None = None
        self.recovery_file: Path | None = None  # where a hangup kept the unsaved edits
        self.debug_run: DebugRun | None = None
        self.debug_worker: Worker[Outcome] | None = None
        self.last_mode = "local"  # the Debug tab debugs the mode of the last boot

    # -- layout --

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs", initial="overview"):
            with TabPane("1 Overview", id="overview"):
                yield OverviewPane(id="overview-pane")
            with TabPane("2 Sections", id="sections"):
                yield SectionsPane(id="sections-pane")
            with TabPane("3 Edit", id="edit"):
                yield EditPane(id="edit-pane")
            with TabPane("4 Preview", id="preview"):
                yield PreviewPane(id="preview-pane")
            with TabPane("5 Boot", id="boot"):
                yield BootPane(id="boot-pane")
            if self.compare_path is not None:
                with TabPane("6 Compare", id="compare"):
                    yield ComparePane(id="compare-pane")
            if self.log_path is not None:
                with TabPane("7 Log", id="log"):
                    yield LogPane(id="log-pane")
            with TabPane("8 Debug", id="debug"):
                yield DebugPane(id="debug-pane")
            if self.guests > 1:
                with TabPane("Guests", id="guests"):
                    yield GuestsPane(self.guests, id="guests-pane")
            if self.serve_interface is not None:
                with TabPane("9 Serve", id="serve"):
                    yield ServePane(self.serve_interface, id="serve-pane")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = short_path(self.stub_path)
        self.refresh_all()
        if self.compare_path is not None:
            self.compute_comparison(self.compare_path)
        if self.log_path is not None:
            self.explain_log_file(self.log_path)
        if self.serve_interface is not None:
            self.serve_root(self.serve_interface)
        self._watch_hangup(True)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # What arrived while the tab was hidden is painted now (see lazy.py).
        for pane in event.pane.children:
            if isinstance(pane, PaintsWhenShown):
                pane.catch_up()
        # Typing goes into a field at once, never into a key binding (q quits).
        if event.pane.id == "edit":
            self.query_one(EditPane).focus_first_field()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Plain text unless asked otherwise: messages quote paths and errors, which may hold
        square brackets."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def compute_comparison(self, other: Path) -> None:
        """Both files are hashed whole: off the UI thread."""
        with in_background():
            try:
                comparison: Comparison | str = compare(self.stub_path, other, self.root)
            except WorkbenchError as error:
                comparison = f"Cannot compare: {error}"
            self.call_from_thread(self._show_comparison, comparison)

    @work(thread=True, exclusive=True, group="log", exit_on_error=False)
    def explain_log_file(self, log: Path) -> None:
        """The log is read and the tree's files hashed: off the UI thread."""
        with in_background():
            try:
                explanation = explain_log(log, self.root if self.root_given else None,
                                          self.stub_path)  # fmt: skip
                text = render(explanation)
            except WorkbenchError as error:
                text = f"Cannot explain {log}: {error}"
            self.call_from_thread(self._show_log, text)

    @work(thread=True, exclusive=True, group="serve", exit_on_error=False)
    def serve_root(self, interface: str) -> None:
        """ROOT on the user's own network, as `workbench serve --pxe --http`, until the app ends."""
        from workbench.lab.pxe import PxeConfig, interface_ipv4
        from workbench.serve_clients import (
            BootServer,
            BootServerSettings,
            Machine,
            check_before_start,
        )

        pane = self.query_one(ServePane)

        def banner(text: str) -> None:
            self.call_from_thread(pane.show_banner, text)

        if self.root is None:
            banner("Cannot serve: no ROOT (pass --root)")
            return

        # post_message is thread-safe: the servers' threads call these.
        def output(line: str, _record: dict[str, object]) -> None:
            pane.post_message(ServePane.Output(line))

        def changed(machine: Machine) -> None:
            pane.post_message(ServePane.Changed(MachineRow.of(machine)))

        try:
            config = PxeConfig(interface_ipv4(interface), http=True)
            settings = BootServerSettings(self.root, config)
            check_before_start(settings)
            server = BootServer(settings, output)
            server.table.on_change = changed
            server.start()
        except WorkbenchError as error:
            banner(f"Cannot serve on {interface}: {error}")
            return
        address = config.interface.address
        banner(
            f"Serving {short_path(self.root)} on {interface} ({address}): ProxyDHCP beside the "
            "network's own DHCP server, TFTP, HTTP and the stubs' syslog; a row per machine"
        )
        try:
            while not self._stop_serving.wait(0.2) and not get_current_worker().is_cancelled:
                pass
        finally:
            server.stop()

    def _show_log(self, text: str) -> None:
        if self.panes_ready:
            self.query_one(LogPane).show_message(text)

    def _show_comparison(self, comparison: Comparison | str) -> None:
        if not self.panes_ready:
            return
        pane = self.query_one(ComparePane)
        if isinstance(comparison, str):
            pane.show_message(comparison)
        else:
            pane.show(comparison)

    # -- presenting --

    @property
    def root_note(self) -> str:
        if self.root is None:
            return "none: pass --root ROOT to preview and boot"
        where = short_path(self.root)
        if stub_in_root(self.stub_path, self.root):
            return f"{where} (the stub's own tree)" if not self.root_given else where
        boot_file = self.boot_arch.boot_path if self.boot_arch else "EFI/BOOT/BOOT*.EFI"
        return f"{where} (boots ROOT's own {boot_file}, not this file)"

    @property
    def boot_arch(self) -> Arch | None:
        """The machine a boot starts: the stub's architecture, so that a tree with both boot
        files boots the one this stub is for; None (the tree's) for a stub of neither."""
        return by_machine(self.stub.image.machine)

    @property
    def panes_ready(self) -> bool:
        """False while the app shuts down: a late timer or worker result then updates nothing."""
        return self.is_running and not self._closing and bool(self.query(PreviewPane))

    def refresh_all(self) -> None:
        """After load, save or undo: every pane from the current stub and session."""
        if not self.panes_ready:
            return
        self.readiness = None
        self.pcr11 = None
        self.query_one(SectionsPane).show(self.stub)
        self.query_one(EditPane).show(self.session, self._disabled_notes())
        self.refresh_overview()
        # What takes hashing follows from workers, started once this screen is painted: they
        # would otherwise take the processor from the first paint.
        self.call_after_refresh(self._start_slow_work)

    def _start_slow_work(self) -> None:
        if not self.panes_ready:
            return
        if not self.stub.hashed:
            self.compute_section_hashes(self.stub)
        self.check_readiness()
        self.predict_pcrs()
        self.refresh_preview()

    @work(thread=True, exclusive=True, group="hashes", exit_on_error=False)
    def compute_section_hashes(self, stub: LoadedStub) -> None:
        """Every section hashed off the UI thread: the app opens at once even on a 200 MiB
        stub and shows "hashing…" until this is done."""
        with in_background():
            try:
                hashes = hash_stub(stub.path)
            except WorkbenchError as error:
                self.call_from_thread(
                    self.notify, f"Cannot hash the sections: {error}", severity="error"
                )
                return
            if not get_current_worker().is_cancelled:
                self.call_from_thread(self._set_hashes, stub, hashes)

    def _set_hashes(self, stub: LoadedStub, hashes: Hashes) -> None:
        # A save in the meantime replaced the stub: its own worker brings its hashes.
        if not self.panes_ready or stub is not self.stub or not stub.add_hashes(hashes):
            return
        self.query_one(SectionsPane).show_digests(stub)
        self.refresh_overview()

    @work(thread=True, exclusive=True, group="readiness", exit_on_error=False)
    def check_readiness(self) -> None:
        """sbverify runs a process: off the UI thread; the overview fills in when it is done."""
        with in_background():
            try:
                readiness = secure_boot_readiness(self.stub_path, self.keys)
            except WorkbenchError as error:
                self.call_from_thread(self.notify, str(error), severity="error")
                return
            self.call_from_thread(self._set_readiness, readiness)

    @work(thread=True, exclusive=True, group="pcrs", exit_on_error=False)
    def predict_pcrs(self) -> None:
        """PCR 11 hashes every measured section (a fat stub's kernel too): in a child process,
        waited for off the UI thread (see pcr_job)."""
        with in_background():
            try:
                pcr11 = predict_pcr11(self.stub_path)
            except WorkbenchError as error:
                self.call_from_thread(self.notify, str(error), severity="error")
                return
            if pcr11 is not None:  # None: not a stub that measures, the overview says nothing
                self.call_from_thread(self._set_pcr11, pcr11.value, pcr11.sections)

    def _set_pcr11(self, value: str, sections: tuple[str, ...]) -> None:
        self.pcr11, self.pcr11_sections = value, sections
        self.refresh_overview()

    def _set_readiness(self, readiness: Readiness) -> None:
        self.readiness = readiness
        self.refresh_overview()

    def refresh_edits(self) -> None:
        if not self.panes_ready:
            return
        self.query_one(EditPane).show(self.session, self._disabled_notes())
        self.refresh_preview()

    def refresh_overview(self) -> None:
        if not self.panes_ready:
            return
        facts = OverviewFacts(
            stub=self.stub,
            session=self.session,
            root=self.root,
            root_note=self.root_note,
            keys=self.keys,
            readiness=self.readiness,
            problems=self.preview_problems,
            pcr11=self.pcr11,
            pcr11_sections=self.pcr11_sections,
        )
        self.query_one(OverviewPane).show(facts)

    def refresh_preview(self) -> None:
        self._preview_timer = None
        if not self.panes_ready:
            return
        pane = self.query_one(PreviewPane)
        self.preview_problems = []
        if self.root is None:
            pane.show_message("No ROOT: pass --root ROOT (an ESP tree, also served over TFTP).")
            self.refresh_overview()
            return
        self.refresh_overview()
        # What the worker needs, taken now: the edits may change while it runs.
        edits = None
        if self.session.is_dirty and not self.session.errors():
            edits = self.session.changes()
        self.compute_preview(edits, has_errors=bool(self.session.errors()))

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def compute_preview(self, edits: dict[str, bytes | None] | None, has_errors: bool) -> None:
        """Hashing ROOT's files and copying a big stub take time: never on the UI thread. An
        exclusive worker: a newer preview cancels the older one."""
        worker = get_current_worker()
        with in_background():
            if worker.is_cancelled:
                return  # a newer preview was asked for while this one waited its turn
            try:
                preview, note = self._preview(edits, has_errors)
            except WorkbenchError as error:
                if not worker.is_cancelled:
                    self.call_from_thread(self._show_preview, None, f"Preview unavailable: {error}")
                return
            if not worker.is_cancelled:
                self.call_from_thread(self._show_preview, preview, note)

    def _show_preview(self, preview: Preview | None, note: str) -> None:
        if not self.panes_ready:
            return
        pane = self.query_one(PreviewPane)
        if preview is None:
            pane.show_message(note)
            self.preview_problems = []
        else:
            pane.show(preview, note)
            self.preview_problems = rehash.preview_problems(preview)
        self.refresh_overview()

    def _preview(
        self, edits: dict[str, bytes | None] | None, has_errors: bool
    ) -> tuple[Preview, str]:
        assert self.root is not None
        if edits is None:
            note = f"The saved stub, against ROOT {short_path(self.root)}."
            if has_errors:
                note += " Unsaved edits have errors and are not shown."
            return preview(self.stub_path, self.root), note
        # Preview what the edits would do: write them to a scratch copy.
        with tempfile.TemporaryDirectory(prefix="workbench-preview-") as scratch:
            edited = Path(scratch) / self.stub_path.name
            rewrite_sections(self.stub_path, edits, edited, signed="drop")
            note = f"With the unsaved edits, against ROOT {short_path(self.root)}."
            return preview(edited, self.root), note

    def _disabled_notes(self) -> dict[Field, str]:
        notes: dict[Field, str] = {}
        info = self.stub.info
        for name, ref in ((Field.KERNEL_PATH, info.kernel), (Field.INITRD_PATH, info.initrd)):
            if ref is not None and ref.embedded_size is not None:
                notes[name] = f"embedded, {human_size(ref.embedded_size)}"
            else:
                notes[name] = f"not editable in a {info.flavour} stub"
        for name in (Field.KERNEL_HASH, Field.INITRD_HASH):
            notes[name] = f"not used by a {info.flavour} stub"
        return notes

    def reload(self) -> None:
        self.stub.close()
        self.stub = load_stub(self.stub_path)
        self.session = EditSession.from_info(self.stub.info)
        self.refresh_all()

    # -- editing --

    def on_edit_pane_field_edited(self, message: EditPane.FieldEdited) -> None:
        if self.session.values[message.name] == message.value:
            return
        self.session.set(message.name, message.value)
        self.query_one(EditPane).show_errors(self.session)
        # The overview (hidden while typing in the Edit tab) and the preview, which hashes
        # files under ROOT, follow once typing pauses, not on every keystroke.
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self.refresh_preview)

    def on_edit_pane_field_left(self, _message: EditPane.FieldLeft) -> None:
        self.session.end_edit()

    def action_undo(self) -> None:
        if not self.session.undo():
            self.notify("Nothing to undo.")
            return
        self.refresh_edits()
        self.query_one(EditPane).set_status("Undone.")

    def action_rehash(self) -> None:
        if self.root is None:
            self.notify("Rehash needs ROOT: pass --root.", severity="warning")
            return
        self.query_one(EditPane).set_status(f"Hashing the files under {short_path(self.root)}...")
        self.compute_hashes(self.root)

    @work(thread=True, exclusive=True, group="rehash", exit_on_error=False)
    def compute_hashes(self, root: Path) -> None:
        with in_background():
            try:
                values = rehash.hashes_from_root(self.session, root)
            except WorkbenchError as error:
                self.call_from_thread(self._rehash_failed, str(error))
                return
            self.call_from_thread(self._apply_hashes, values)

    def _rehash_failed(self, error: str) -> None:
        if not self.panes_ready:
            return
        self.query_one(EditPane).set_status(f"Rehash failed: {error}")
        self.notify(error, severity="error")

    def _apply_hashes(self, values: dict[Field, str]) -> None:
        if not self.panes_ready:
            return
        self.session.set_many(values)
        self.refresh_edits()
        changed = [name for name, value in values.items() if value != self.session.saved[name]]
        status = f"Rehashed from {short_path(self.root)}: " + (
            f"{len(changed)} hash(es) changed, not saved yet."
            if changed
            else "hashes already match."
        )
        self.query_one(EditPane).set_status(status)

    def action_save(self) -> None:
        self.save_flow()

    @work(exclusive=True, group="dialog")
    async def save_flow(self) -> bool:
        return await self.save()

    async def save(self) -> bool:
        """Save the edits; True when the file on disk now holds them."""
        pane = self.query_one(EditPane)
        if not self.session.is_dirty:
            self.notify("No unsaved edits.")
            return True
        try:
            changes = self.session.changes()
        except WorkbenchError as error:
            pane.set_status(f"Not saved: {error}")
            self.notify(f"Not saved: {error}", severity="error")
            return False
        resign = False
        if self.stub.is_signed:
            choices = [("drop", "Save unsigned")]
            if self.keys is not None:
                choices.insert(0, ("resign", "Save and re-sign"))
                how = f" Re-sign with the db key in {short_path(self.keys)}?"
            else:
                how = " Pass --keys KEYDIR to re-sign on save."
            answer = await self.push_screen_wait(
                ChoiceDialog(
                    "Saving invalidates the signature",
                    "The stub is signed; changing its sections breaks the signature." + how,
                    choices,
                )
            )
            if answer is None:
                pane.set_status("Not saved.")
                return False
            resign = answer == "resign"
        pane.set_status("Saving...")
        try:
            await asyncio.to_thread(self._write, changes, resign=resign)
        except WorkbenchError as error:
            pane.set_status(f"Not saved, the file is unchanged: {error}")
            self.notify(f"Not saved: {error}", severity="error")
            return False
        await asyncio.to_thread(self.stub.close)
        self.stub = await asyncio.to_thread(load_stub, self.stub_path)
        self.session = EditSession.from_info(self.stub.info)
        self.refresh_all()
        signed_note = " and re-signed" if resign else ""
        pane.set_status(f"Saved{signed_note} {short_path(self.stub_path)}.")
        self.notify(f"Saved{signed_note} {short_path(self.stub_path)}")
        return True

    def _write(self, changes: dict[str, bytes | None], *, resign: bool) -> None:
        signing: Signing = "resign" if resign else ("drop" if self.stub.is_signed else "refuse")
        write_stub(self.stub_path, changes, signing=signing, keys=self.keys)

    # -- booting --

    @property
    def boot_running(self) -> bool:
        return self.boot_worker is not None and not self.boot_worker.is_finished

    def action_boot(self, mode: str, secure_boot: bool = False, ipv6: bool = False) -> None:
        self.boot_flow(mode, secure_boot, ipv6)

    def action_boot_shim(self) -> None:
        """Boot ROOT through shim: Microsoft's keys, the saved stub as shim's second stage,
        signed with --keys (or throwaway test keys) enrolled as a MOK."""
        from workbench.lab.request import ShimOptions

        if self.boot_running or self.root is None:
            self.notify("Needs --root and no boot running.", severity="warning")
            return
        if self.session.is_dirty:
            self.notify("Booting the saved stub; the unsaved edits are not in it.")
        shim = ShimOptions(keys=self.keys)
        request = BootRequest(self.root, "local", self.expect, self.boot_timeout, shim=shim)
        pane = self.query_one(BootPane)
        self.query_one(TabbedContent).active = "boot"
        pane.start(f"boot through shim of {short_path(self.root)}: the saved stub")

        def relay(event: Event) -> None:
            pane.post_message(BootPane.RunEvent(event))

        run = self.boot_run = BootRun(request, on_event=relay)
        self.boot_worker = self.run_worker(
            lambda: run_boot(run), thread=True, exclusive=True, group="boot", name="boot-shim"
        )

    def debug_command(self) -> list[str]:
        """`workbench debug` of ROOT from a local ESP, as the same Python runs it."""
        assert self.root is not None
        return [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())",
                "debug", str(self.root), "--mode", "local"]  # fmt: skip

    def action_debug_boot(self) -> None:
        """GDB wants the terminal: the app steps aside while `workbench debug` runs in it."""
        if self.boot_running or self.root is None:
            self.notify("A debug boot needs --root and no boot running.", severity="warning")
            return
        if self.session.is_dirty:
            self.notify("Debugging the saved stub; the unsaved edits are not in it.")
        command = self.debug_command()
        try:
            with self.suspend():
                code = subprocess.run(command, check=False).returncode
        except SuspendNotSupported:
            shown = shlex.join(["workbench", *command[3:]])
            self.notify(f"A debug boot needs a terminal: run {shown}", severity="warning")
            return
        self.notify(f"The debug boot ended with exit code {code}.")

    @work(exclusive=True, group="dialog")
    async def boot_flow(self, mode: str, secure_boot: bool = False, ipv6: bool = False) -> None:
        if secure_boot and self.keys is None:
            self.notify("A Secure Boot boot needs --keys KEYDIR.", severity="warning")
            return
        if self.boot_running or self.debug_running:
            self.notify("A boot is already running: s stops it.", severity="warning")
            return
        if self.root is None:
            self.notify("Booting needs ROOT: pass --root.", severity="warning")
            return
        which = "the saved stub"
        if self.session.is_dirty and stub_in_root(self.stub_path, self.root):
            answer = await self.push_screen_wait(
                ChoiceDialog(
                    "Unsaved edits",
                    "The boot runs the file on disk. Save the edits first?",
                    [("save", "Save and boot"), ("saved", "Boot the saved file")],
                )
            )
            if answer is None:
                return
            if answer == "save":
                if not await self.save():
                    return
                which = "the stub with the edits just saved"
            else:
                which = "the saved stub, without the unsaved edits"
        if self.guests > 1 and mode in ("net", "http") and not secure_boot:
            self.start_guests_boot(mode, which, ipv6)
        else:
            self.start_boot(mode, which, secure_boot, ipv6)

    def start_boot(
        self,
        mode: str,
        which: str = "the saved stub",
        secure_boot: bool = False,
        ipv6: bool = False,
    ) -> None:
        assert self.root is not None
        vars_store = None
        if secure_boot:
            # Filled in the worker (enrolling takes a moment); removed when the run ends.
            self.secure_boot_dir = tempfile.TemporaryDirectory(prefix="workbench-sb-vars-")
            self.boot_run_vars_dir = self.secure_boot_dir.name
            vars_store = Path(self.secure_boot_dir.name) / "vars.fd"
        request = BootRequest(
            root=self.root,
            mode=mode,  # type: ignore[arg-type]
            expect=self.expect,
            timeout=self.boot_timeout,
            secure_boot=secure_boot,
            vars_template=vars_store,
            tpm=self.tpm,
            ipv6=ipv6,
            arch=self.boot_arch.name if self.boot_arch else None,
        )
        self.last_mode = mode
        pane = self.query_one(BootPane)
        self.query_one(TabbedContent).active = "boot"
        label = BOOT_LABELS.get(mode, mode) + (" over IPv6" if ipv6 else "")
        if secure_boot:
            label = f"Secure Boot {label}"
        pane.start(f"{label} of {short_path(self.root)}: {which}")

        def relay(event: Event) -> None:
            pane.post_message(BootPane.RunEvent(event))

        run = BootRun(request, on_event=relay)
        self.boot_run = run
        keys = self.keys
        self.boot_worker = self.run_worker(
            lambda: run_boot(run, keys if secure_boot else None, vars_store),
            thread=True,
            exclusive=True,
            group="boot",
            name=f"boot-{mode}",
        )

    # -- the Debug tab --

    @property
    def debug_running(self) -> bool:
        return self.debug_worker is not None and not self.debug_worker.is_finished

    def action_debug_in_tab(self) -> None:
        """G: the saved stub under GDB/MI, driven from the Debug tab; the mode of the last boot."""
        if self.boot_running or self.debug_running or self.root is None:
            self.notify("A debug boot needs --root and no boot running.", severity="warning")
            return
        if self.session.is_dirty:
            self.notify("Debugging the saved stub; the unsaved edits are not in it.")
        request = DebugRequest(
            root=self.root,
            mode=self.last_mode,  # type: ignore[arg-type]
            options=DebugOptions(),
            timeout=max(self.boot_timeout, 3600.0),  # a person at the keys takes their time
            expect=self.expect,
            arch=self.boot_arch.name if self.boot_arch else None,
        )
        pane = self.query_one(DebugPane)
        self.query_one(TabbedContent).active = "debug"
        label = BOOT_LABELS.get(self.last_mode, self.last_mode)
        pane.start(f"{label} of {short_path(self.root)} under GDB")

        # post_message is thread-safe: GDB's reader and the boot's threads call these.
        def event(event: Event) -> None:
            pane.post_message(DebugPane.RunEvent(event))

        def session(session: MiSession) -> None:
            pane.post_message(DebugPane.SessionReady(session))

        def note(note: MiNote) -> None:
            pane.post_message(DebugPane.Note(note))

        run = self.debug_run = DebugRun(request, event, on_session=session, on_note=note)

        def body() -> Outcome:
            try:
                return run.run().outcome
            except WorkbenchError as error:
                return Outcome(ok=False, kind=outcome_kind(error), reason=str(error), seconds=0)

        self.debug_worker = self.run_worker(
            body, thread=True, exclusive=True, group="debug", name="debug-mi"
        )

    def start_guests_boot(self, mode: str, which: str, ipv6: bool) -> None:
        """`boot --guests N`: the guests side by side in the Guests tab."""
        assert self.root is not None
        request = BootRequest(
            root=self.root,
            mode=mode,  # type: ignore[arg-type]
            expect=self.expect,
            timeout=self.boot_timeout,
            ipv6=ipv6,
            guests=self.guests,
            arch=self.boot_arch.name if self.boot_arch else None,
        )
        self.last_mode = mode
        pane = self.query_one(GuestsPane)
        self.query_one(TabbedContent).active = "guests"
        label = BOOT_LABELS.get(mode, mode) + (" over IPv6" if ipv6 else "")
        pane.start(f"{label} of {short_path(self.root)} on {self.guests} guests: {which}")

        def relay(event: Event) -> None:
            pane.post_message(GuestsPane.RunEvent(event))

        run = self.boot_run = BootRun(request, on_event=relay)
        self.boot_worker = self.run_worker(
            lambda: run_boot(run), thread=True, exclusive=True, group="boot", name="boot-guests"
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self.debug_worker and event.worker.is_finished:
            outcome = event.worker.result
            if outcome is None:
                reason = str(event.worker.error or "the debug boot was cancelled")
                outcome = Outcome(ok=False, kind="lab-failed", reason=reason, seconds=0.0)
            self.query_one(DebugPane).finish(outcome)
            self.debug_run = None
            return
        if event.worker is not self.boot_worker or not event.worker.is_finished:
            return
        outcome = event.worker.result
        if outcome is None:
            reason = str(event.worker.error or "the boot was cancelled")
            outcome = Outcome(ok=False, kind="lab-failed", reason=reason, seconds=0.0)
        if event.worker.name == "boot-guests":
            self.query_one(GuestsPane).finish(outcome)
        else:
            pane = self.query_one(BootPane)
            if pane.outcome is None:
                pane.finish(outcome)
        self.last_outcome = outcome
        self.boot_run = None
        if self.secure_boot_dir is not None:
            self.secure_boot_dir.cleanup()
            self.secure_boot_dir = None

    def action_stop_boot(self) -> None:
        if self.debug_running and self.debug_run is not None:
            self.debug_run.stop()
            return
        if self.boot_run is None or not self.boot_running:
            self.notify("No boot is running.")
            return
        self.boot_run.stop()

    def action_escape(self) -> None:
        if self.boot_running or self.debug_running:
            self.action_stop_boot()
        elif isinstance(self.focused, Input):
            self.query_one(TabbedContent).query_one("Tabs").focus()

    async def stop_boot_and_wait(self) -> None:
        if self.boot_run is not None and self.boot_worker is not None:
            self.boot_run.stop()
            await self.boot_worker.wait()
        if self.debug_run is not None and self.debug_worker is not None:
            self.debug_run.stop()
            await self.debug_worker.wait()

    # -- the rest --

    def action_show_tab(self, tab: str) -> None:
        absent = {
            "compare": self.compare_path is None,
            "log": self.log_path is None,
            "serve": self.serve_interface is None,
        }
        if absent.get(tab, False):
            return
        self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """q, Ctrl+Q and Ctrl+C: at once without unsaved edits, else after asking."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        elif isinstance(self.screen, ModalScreen):
            return  # a question is open: it is answered first (Escape cancels it)
        self.quit_flow()

    @work(exclusive=True, group="dialog")
    async def quit_flow(self) -> None:
        if self.session.is_dirty and not await self.keep_or_drop_edits():
            return
        await self.stop_boot_and_wait()
        self.exit()

    async def keep_or_drop_edits(self) -> bool:
        """Ask what becomes of the unsaved edits; True when quitting may go on."""
        dirty = ", ".join(FIELD_LABELS[name].lower() for name in self.session.dirty_fields)
        message = f"Unsaved edits: {dirty}."
        choices = [("save", "Save and quit"), ("discard", "Quit without saving")]
        if self.session.errors():
            message += " They have errors and cannot be saved as they are."
            choices = choices[1:]
        answer = await self.push_screen_wait(
            ChoiceDialog("Quit with unsaved edits?", message, choices, cancel_label="Stay")
        )
        if answer == "save":
            return await self.save()
        return answer == "discard"

    def _watch_hangup(self, on: bool) -> None:
        """Closing the terminal sends SIGHUP, which would end the process there and then: keep
        the unsaved edits in a file first. Only where asyncio takes signals (the main thread of
        a Unix process)."""
        try:
            loop = asyncio.get_running_loop()
            if on:
                loop.add_signal_handler(signal.SIGHUP, self._hung_up)
            else:
                loop.remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def _hung_up(self) -> None:
        if self.session.is_dirty:
            self.recovery_file = write_recovery(self.stub_path, self.session, self.stub.is_signed)
        if self.boot_run is not None:
            self.boot_run.stop()
        self.exit(return_code=128 + signal.SIGHUP)

    async def on_unmount(self) -> None:
        self._watch_hangup(False)
        if self._preview_timer is not None:
            self._preview_timer.stop()
        if self.boot_run is not None:
            self.boot_run.stop()
        if self.debug_run is not None:
            self.debug_run.stop()
        self._stop_serving.set()
        self.stub.close()
