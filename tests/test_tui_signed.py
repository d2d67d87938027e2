"""Editing a signed stub from the app: the signature is shown invalidated, and Save re-signs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_tool
from tui_support import settled

from workbench import contract
from workbench.keys import init_keys
from workbench.pe.image import PeImage
from workbench.pe.signing import verify
from workbench.stubinfo import describe
from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs import ChoiceDialog
from workbench.tui.editing import Field
from workbench.tui.overview import OverviewPane


@pytest.fixture
def signed_stub(make_tree: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    require_tool("sbsign")
    require_tool("sbverify")
    keys = tmp_path / "keys"
    init_keys(keys)
    stub = make_tree() / contract.BOOT_PATH
    from workbench.pe.signing import sign

    sign(stub, keys)
    return stub, keys


@pytest.mark.parametrize("answer", ["resign", "drop"])
async def test_saving_a_signed_stub_asks_then_resigns_or_drops(
    signed_stub: tuple[Path, Path], answer: str
) -> None:
    stub, keys = signed_stub
    app = WorkbenchApp(stub, keys=keys)
    async with app.run_test(size=(100, 32)) as pilot:
        await settled(pilot)  # sbverify runs in a worker
        text = app.query_one(OverviewPane).text
        assert (
            "signed by " in text
            and "TEST db key" in text
            and "ready: the signature verifies" in text
        )
        await pilot.press("3")
        app.query_one(f"#edit-{Field.CMDLINE}").focus()
        await pilot.press("end", *" quiet")
        await settled(pilot)  # the overview follows once typing pauses
        text = app.query_one(OverviewPane).text
        assert "invalidated by the unsaved edits" in text
        assert "saving the unsaved edits invalidates the signature" in text
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.click(f"#choice-{answer}")
        await pilot.pause()
        for _ in range(50):
            if not app.session.is_dirty:
                break
            await pilot.pause(0.1)
        assert not app.session.is_dirty
    with PeImage.open(stub) as image:
        assert describe(image).cmdline.endswith(" quiet")
        assert image.is_signed == (answer == "resign")
    if answer == "resign":
        assert verify(stub, keys)


async def test_cancelling_the_signature_question_saves_nothing(
    signed_stub: tuple[Path, Path],
) -> None:
    stub, keys = signed_stub
    before = stub.read_bytes()
    app = WorkbenchApp(stub, keys=keys)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        app.query_one(f"#edit-{Field.CMDLINE}").focus()
        await pilot.press("end", "x", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert app.session.is_dirty
    assert stub.read_bytes() == before
