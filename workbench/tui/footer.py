"""The key bar, rebuilt only when a key it has never shown appears.

Textual's Footer rebuilds all its keys whenever the focus moves, and a text field's focus
hides the letter keys (they type into it): the rebuild and the layout it forces cost entering
or leaving a field 50 to 100 ms. Here the keys stay; those not working where the focus is are
dimmed instead.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class SteadyFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._on_bar: frozenset[tuple[str, str]] | None = None  # (key, action) shown

    def bindings_changed(self, screen: Screen) -> None:
        # Footer skips the rebuild for another screen or an app without focus: so does this.
        if screen is not self.screen or not screen.app.app_focus:
            super().bindings_changed(screen)
            return
        active = {
            (binding.key, binding.action): enabled
            for _, binding, enabled, _ in screen.active_bindings.values()
            if binding.show
        }
        if self._on_bar is not None and set(active) <= self._on_bar:
            for key in self.query(FooterKey):
                if (key.key, key.action) in self._on_bar:  # not the palette's own key
                    key.set_class(not active.get((key.key, key.action), False), "-disabled")
            return
        self._on_bar = frozenset(active)
        super().bindings_changed(screen)
