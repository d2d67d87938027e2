"""Focus: the Edit tab puts it in the first field, every focus stop is on screen and shows that
it has the focus, and letters typed into a field never run key bindings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Tabs

from workbench import contract
from workbench.tui.app import WorkbenchApp
from workbench.tui.edit_pane import EditPane
from workbench.tui.editing import Field

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def stub(make_tree: Callable[..., Path]) -> Path:
    return make_tree() / contract.BOOT_PATH


def look(widget: Widget) -> tuple[Any, ...]:
    """What the eye sees of a widget and its children: colours, text style, left edge."""
    return tuple(
        (node.rich_style, node.styles.border_left, node.styles.background_tint)
        for node in widget.walk_children(with_self=True)
        if isinstance(node, Widget)
    )


def on_screen(app: WorkbenchApp, widget: Widget) -> bool:
    region = widget.region
    return (
        widget.display
        and widget.visible
        and region.area > 0
        and app.screen.region.contains_region(region)
    )


async def focus_stops(pilot: Pilot) -> list[Widget]:
    """Every widget Tab stops at, once round, from where the focus is now."""
    app = pilot.app
    stops: list[Widget] = []
    for _ in range(40):
        await pilot.press("tab")
        await pilot.pause()
        focused = app.focused
        assert focused is not None, "Tab left nothing focused"
        if focused in stops:
            return stops
        stops.append(focused)
    raise AssertionError(f"Tab never came round: {stops}")


@pytest.mark.parametrize("size", SIZES)
async def test_the_edit_tab_focuses_the_first_field(stub: Path, size: tuple[int, int]) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        await pilot.pause()
        box = app.query_one(f"#edit-{Field.CMDLINE}", Input)
        assert app.focused is box
        # Letters go into the field: q does not quit, b does not boot.
        await pilot.press("end", *" qbn")
        assert app.is_running
        assert box.value.endswith(" qbn")


async def test_clicking_the_edit_tab_focuses_the_first_field(stub: Path) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.click("#--content-tab-edit")
        await pilot.pause()
        assert app.focused is app.query_one(f"#edit-{Field.CMDLINE}", Input)


@pytest.mark.parametrize("size", SIZES)
async def test_tab_through_the_edit_tab_shows_every_stop(stub: Path, size: tuple[int, int]) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        await pilot.pause()
        pane = app.query_one(EditPane)
        stops = await focus_stops(pilot)
        looks = []
        for widget in stops:
            widget.focus()
            await pilot.pause()
            assert on_screen(app, widget), widget
            inside = pane in widget.ancestors and pane.region.contains_region(widget.region)
            assert inside or isinstance(widget, Tabs), f"{widget} is outside the Edit pane"
            looks.append(look(widget))
        app.set_focus(None)
        await pilot.pause()
        for widget, focused_look in zip(stops, looks, strict=True):
            assert look(widget) != focused_look, f"{widget} looks the same with the focus"
        assert {f"edit-{name}" for name in Field} <= {widget.id for widget in stops}


@pytest.mark.parametrize("tab", ["1", "2", "4", "5"])
async def test_every_focus_stop_of_every_tab_shows_the_focus(stub: Path, tab: str) -> None:
    app = WorkbenchApp(stub)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press(tab)
        await pilot.pause()
        stops = await focus_stops(pilot)
        assert len(stops) >= 2  # the tab strip and what the tab holds
        looks = []
        for widget in stops:
            widget.focus()
            await pilot.pause()
            assert on_screen(app, widget), widget
            looks.append(look(widget))
        app.set_focus(None)
        await pilot.pause()
        for widget, focused_look in zip(stops, looks, strict=True):
            assert look(widget) != focused_look, f"{widget} looks the same with the focus"
