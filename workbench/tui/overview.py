"""Overview pane: what the stub is, its signature and Secure Boot readiness, what is wrong.

Names and values from the stub, the file system or a certificate reach the table as Text: a
plain `str` cell would be read as Rich markup (`EFI/[x]/vmlinuz`, `[bold` in a title).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.keys import Readiness
from workbench.stubinfo import FileRef, StubInfo
from workbench.tui.editing import FIELD_LABELS, EditSession
from workbench.tui.formatting import human_size, short_path
from workbench.tui.lazy import PaintsWhenShown
from workbench.tui.model import LoadedStub


@dataclass
class OverviewFacts:
    """Everything the overview shows, gathered by the app from the services."""

    stub: LoadedStub
    session: EditSession
    root: Path | None
    root_note: str
    keys: Path | None
    readiness: Readiness | None  # None: it could not be checked (the reason was shown)
    problems: list[str] = field(default_factory=list)  # from the preview of ROOT
    pcr11: str | None = None  # predicted PCR 11 (sha256) of the saved stub
    pcr11_sections: tuple[str, ...] = ()  # the sections PCR 11 covers


def _file_line(ref: FileRef | None, hashed: bool) -> Text:
    """hashed: the embedded bytes have been checked against the hash section."""
    if ref is None:
        return Text("none", style="dim")
    text = Text()
    if ref.path is not None:
        text.append(ref.path)
    elif ref.embedded_size is not None:
        text.append(f"embedded, {human_size(ref.embedded_size)}")
    if ref.expected_sha256:
        text.append(f"  sha256 {ref.expected_sha256[:16]}…", style="dim")
        if ref.embedded_size is not None and not hashed:
            text.append("  hashing…", style="dim italic")
    elif ref.hash_problem:
        text.append(f"  sha256 {ref.hash_problem}", style="bold red")
    return text


def arch_text(info: StubInfo) -> Text:
    """The stub's architecture, and the kernel's when known (embedded, or the file in the tree)."""
    kernel = info.kernel.arch if info.kernel is not None else None
    text = Text(f"{info.arch} stub")
    if kernel:
        text.append(f", {kernel} kernel", style="bold red" if info.arch_problem else "")
    return text


def signature_text(facts: OverviewFacts) -> Text:
    stub = facts.stub
    if not stub.is_signed:
        return Text("not signed")
    who = stub.signature.subject if stub.signature else None
    if who is None and facts.readiness is not None:
        who = facts.readiness.signer
    text = Text(f"signed by {who or 'an unreadable certificate'}")
    if facts.session.is_dirty:
        text.append("\ninvalidated by the unsaved edits", style="bold yellow")
    return text


def secure_boot_text(facts: OverviewFacts) -> Text:
    readiness = facts.readiness
    if readiness is None:
        return Text("unknown", style="dim")
    if not readiness.signed:
        return Text("not ready: the stub is not signed", style="yellow")
    if readiness.problems:
        return Text("not ready: " + "; ".join(readiness.problems), style="bold red")
    if readiness.matches_keys is None:
        return Text("signed; pass --keys KEYDIR to check it against your db key", style="dim")
    return Text(f"ready: the signature verifies with {short_path(facts.keys)}", style="green")


def warnings_of(facts: OverviewFacts) -> list[str]:
    warnings = list(facts.stub.info.warnings) + list(facts.problems)
    if facts.stub.is_signed and facts.session.is_dirty:
        warnings.append("saving the unsaved edits invalidates the signature")
    if pcr11_changing(facts):
        warnings.append(
            "the unsaved edits change PCR 11: TPM-sealed secrets bound to PCR 11 will not unseal"
        )
    return warnings


def pcr11_changing(facts: OverviewFacts) -> list[str]:
    """The measured sections the unsaved edits change."""
    session = facts.session
    if not session.is_dirty or session.errors():
        return []
    return [name for name in session.changes() if name in facts.pcr11_sections]


def render_overview(facts: OverviewFacts) -> Table:
    info = facts.stub.info
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("File", Text(f"{short_path(facts.stub.path)} ({human_size(facts.stub.size)})"))
    grid.add_row("Flavour", Text(str(info.flavour)))
    grid.add_row("Arch", arch_text(info))
    grid.add_row("Root", Text(facts.root_note))
    hashed = facts.stub.hashed
    grid.add_row("Kernel", _file_line(info.kernel, hashed))
    grid.add_row("Initrd", _file_line(info.initrd, hashed))
    grid.add_row("Cmdline", Text(info.cmdline) if info.cmdline else Text("none", style="dim"))
    pretty = info.osrel.get("PRETTY_NAME") if info.osrel else None
    if pretty:
        grid.add_row("OS", Text(pretty))
    for profile in info.profiles:
        label = "Base" if profile.index == 0 else f"Profile {profile.index}"
        names = [f"ID={profile.id}" if profile.id else "", profile.title or ""]
        head = " ".join(name for name in names if name)
        grid.add_row(label, Text(f"{head}  " if head else "").append(
            " ".join(profile.sections), style="dim"))  # fmt: skip
    if info.pcr_policy is not None:
        policy = info.pcr_policy
        key = f"key {policy.key_fingerprint[:16]}…" if policy.key_fingerprint else "no .pcrpkey"
        signed = ", ".join(f"{s.bank} PCR {s.pcrs}" for s in policy.signatures) or "none"
        grid.add_row("PCR policy", Text(f"{key}; signed for {signed}"))
    if facts.pcr11 is not None:
        text = Text(f"{facts.pcr11}  (sha256, when the kernel starts)")
        if pcr11_changing(facts):
            text.append("\nchanged by the unsaved edits", style="bold yellow")
        grid.add_row("PCR 11", text)
    grid.add_row("Signature", signature_text(facts))
    grid.add_row("Secure Boot", secure_boot_text(facts))
    dirty = facts.session.dirty_fields
    edits = ", ".join(FIELD_LABELS[name].lower() for name in dirty)
    grid.add_row(
        "Edits",
        Text(f"{len(dirty)} unsaved: {edits}", style="yellow") if dirty else Text("none"),
    )
    warnings = warnings_of(facts)
    if warnings:
        lines = Text("\n").join(Text(f"! {warning}", style="bold red") for warning in warnings)
        grid.add_row("Warnings", lines)
    else:
        grid.add_row("Warnings", Text("none", style="green"))
    return grid


class OverviewPane(PaintsWhenShown, VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.facts: OverviewFacts | None = None

    def compose(self) -> ComposeResult:
        yield Static("Opening…", id="overview-body", markup=False)

    def show(self, facts: OverviewFacts) -> None:
        self.facts = facts
        self.paint(lambda: self.query_one("#overview-body", Static).update(render_overview(facts)))

    @property
    def text(self) -> str:
        """The overview as plain text (what a reader sees, or will see, without styles)."""
        if self.facts is None:
            return "Opening…"
        console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
        console.print(render_overview(self.facts))
        return console.export_text()
