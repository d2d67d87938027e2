"""Panes that paint only while their tab is shown.

In Textual a widget updated while hidden still makes the whole screen lay out again, and the
workers' results (hashes, preview, PCR, sbverify) arrive while the user is on another tab:
each would cost the key pressed at that moment tens of milliseconds. A pane keeps its newest
content and paints it when its tab is shown; what it holds stays readable all along.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget


def is_displayed(widget: Widget) -> bool:
    """The widget and every container above it are displayed (its tab is the active one)."""
    return all(node.display for node in (widget, *widget.ancestors) if isinstance(node, Widget))


class PaintsWhenShown:
    """Mixin for a pane (a Widget): `paint(draw)` draws now when shown, else when `catch_up()`
    is called (on its tab's activation). Only the newest pending draw is kept."""

    _pending_draw: Callable[[], None] | None = None

    def paint(self, draw: Callable[[], None]) -> None:
        assert isinstance(self, Widget)
        if is_displayed(self):
            self._pending_draw = None
            draw()
        else:
            self._pending_draw = draw

    def catch_up(self) -> None:
        draw, self._pending_draw = self._pending_draw, None
        if draw is not None:
            draw()
