"""Edit pane: the editable fields with validation as you type; the app owns the EditSession.

The pane itself takes no focus: every focus stop in it is a field or a button, each with a
visible focus style (app.tcss). Errors and the status quote paths: plain text, never markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from workbench.tui.editing import FIELD_LABELS, EditSession, Field

PLACEHOLDERS = {
    Field.CMDLINE: "kernel command line",
    Field.KERNEL_PATH: r"\EFI\Linux\vmlinuz or tftp://a.b.c.d/name",
    Field.KERNEL_HASH: "64 hex digits",
    Field.INITRD_PATH: "empty: no initrd",
    Field.INITRD_HASH: "64 hex digits",
}


class EditPane(VerticalScroll, can_focus=False):
    class FieldEdited(Message):
        def __init__(self, name: Field, value: str) -> None:
            super().__init__()
            self.name = name
            self.value = value

    class FieldLeft(Message):
        """Focus left a field: the next keystroke there starts a new undo step."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._errors_shown: dict[Field, str] = {}

    def compose(self) -> ComposeResult:
        for name in Field:
            with Horizontal(classes="field-row"):
                yield Label(FIELD_LABELS[name], classes="field-label")
                yield Input(
                    id=f"edit-{name}",
                    placeholder=PLACEHOLDERS[name],
                    select_on_focus=False,
                    compact=True,
                )
            yield Static("", id=f"error-{name}", classes="field-error", markup=False)
        with Horizontal(id="edit-buttons"):
            yield Button("Save ^S", id="edit-save", variant="primary")
            yield Button("Undo ^Z", id="edit-undo")
            yield Button("Rehash ^R", id="edit-rehash")
        yield Static("", id="edit-status", markup=False)

    def field_input(self, name: Field) -> Input:
        return self.query_one(f"#edit-{name}", Input)

    def focus_first_field(self) -> None:
        """The first field that takes input (a button when none does)."""
        for widget in self.query("Input, Button"):
            if widget.focusable:
                widget.focus(scroll_visible=False)
                return

    def show(self, session: EditSession, disabled_notes: dict[Field, str]) -> None:
        """Bring every field in line with the session (after load, undo, rehash)."""
        errors = session.errors()
        for name in Field:
            box = self.field_input(name)
            editable = name in session.editable
            box.disabled = not editable
            wanted = session.values[name] if editable else disabled_notes.get(name, "")
            if box.value != wanted:
                box.value = wanted
            self._show_error(name, errors.get(name))
            box.set_class(name in session.dirty_fields, "-dirty")
        self.query_one("#edit-undo", Button).disabled = not session.can_undo
        self.query_one("#edit-save", Button).disabled = not session.is_dirty or bool(errors)

    def show_errors(self, session: EditSession) -> None:
        errors = session.errors()
        for name in Field:
            self._show_error(name, errors.get(name))
            self.field_input(name).set_class(name in session.dirty_fields, "-dirty")
        self.query_one("#edit-undo", Button).disabled = not session.can_undo
        self.query_one("#edit-save", Button).disabled = not session.is_dirty or bool(errors)

    def set_status(self, text: str) -> None:
        self.query_one("#edit-status", Static).update(text)

    def _show_error(self, name: Field, problem: str | None) -> None:
        text = f"✗ {problem}" if problem else ""
        # Each keystroke checks every field: a Static updated lays the screen out again, so
        # only a message that changed is written.
        if self._errors_shown.get(name) != text:
            self._errors_shown[name] = text
            self.query_one(f"#error-{name}", Static).update(text)
        self.field_input(name).set_class(problem is not None, "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        name = Field((event.input.id or "").removeprefix("edit-"))
        if not event.input.disabled:
            self.post_message(self.FieldEdited(name, event.value))

    def on_descendant_blur(self, event) -> None:
        if isinstance(event.widget, Input):
            self.post_message(self.FieldLeft())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"edit-save": "save", "edit-undo": "undo", "edit-rehash": "rehash"}
        name = action.get(event.button.id or "")
        if name:
            self.app.call_later(self.run_action, f"app.{name}")
