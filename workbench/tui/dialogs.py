"""Modal screens: a choice between a few buttons, and the help screen."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static


class ChoiceDialog(ModalScreen[str | None]):
    """A question with one button per answer, then the cancel button; Escape answers None
    (cancel). Title and message are plain text: they may quote paths."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        message: str,
        choices: list[tuple[str, str]],
        cancel_label: str = "Cancel",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.choices = choices
        self.cancel_label = cancel_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            yield Static(self.message, id="dialog-message", markup=False)
            with Horizontal(id="dialog-buttons"):
                for index, (choice, label) in enumerate(self.choices):
                    yield Button(label, id=f"choice-{choice}",
                                 variant="primary" if index == 0 else "default")  # fmt: skip
                yield Button(self.cancel_label, id="choice-cancel")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        choice = (event.button.id or "").removeprefix("choice-")
        self.dismiss(None if choice == "cancel" else choice)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP_TEXT = """\
# Stub Workbench

Inspect, edit, preview and boot one UEFI stub.

## Keys

| key | does |
|---|---|
| `1`..`9` | Overview, Sections, Edit, Preview, Boot, Compare, Log, Debug, Serve |
| `F5`, or `b` outside a text field | boot ROOT from a local ESP (QEMU + OVMF) |
| `F6`, or `n` outside a text field | netboot ROOT over PXE/TFTP in a private network |
| `F7`, or `h` outside a text field | boot ROOT by UEFI HTTP Boot in a private network |
| `F9` / `F10`, or `i` / `I` | the TFTP / HTTP network boot over IPv6 only |
| | with `--guests N`, the network boots run N guests side by side (Guests tab) |
| `Shift+F5`..`Shift+F7`, or `B` / `N` / `H` | the same with Secure Boot (--keys enrolled) |
| `D` outside a text field | debug boot: `workbench debug ROOT` takes the terminal (GDB) |
| `G` outside a text field | debug boot in the Debug tab (GDB/MI; the last boot's mode) |
| `c` `s` `n` `f` `p` (Debug tab) | continue, step, next, finish, pause; Enter: a breakpoint |
| `F8`; `s`, `Esc` outside a text field | stop the running boot |
| `Ctrl+S` | save the edits (atomic; asks before dropping a signature) |
| `Ctrl+Z` | undo the last unsaved edit |
| `Ctrl+R` | rehash kernel and initrd from the files under ROOT |
| `Esc` | leave a text field |
| | the F-keys and Ctrl keys work wherever the focus is; letters typed into a field stay there |
| `q`, `Ctrl+Q`, `Ctrl+C` | quit (stops a running boot first); unsaved edits: asks first |
| `?` | this help |

## Editing

The Edit tab puts the cursor in its first field; Tab moves on, Esc leaves the fields.
Fields are checked as you type: a hash is 64 hex digits, a path follows the
stub's rules (`\\EFI\\Linux\\vmlinuz` or `tftp://a.b.c.d/name`). Saving rewrites
the stub's sections; the file on disk changes only when the whole write succeeds.
Quitting with unsaved edits asks first: save and quit, quit without saving, or stay (Esc).
If the terminal closes with unsaved edits, they are kept in `STUB.unsaved-edits.sh`
beside the stub: a `workbench set` command that applies them.

## Boot

The boot runs the stub at ROOT/EFI/BOOT/BOOTX64.EFI. With unsaved edits you are
asked whether to save first or to boot the saved file.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
