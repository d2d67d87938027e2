"""Helpers for driving the app: its slow work runs in thread workers, so a test that reads
what a worker fills in (preview, Secure Boot readiness, PCR prediction, rehash) waits for them."""

from __future__ import annotations

from textual.pilot import Pilot

# The preview is recomputed once typing pauses for this long (PREVIEW_DELAY) plus margin.
PREVIEW_PAUSE = 0.4


async def settled(pilot: Pilot) -> None:
    """Let pending timers fire and every worker finish, then let the screen catch up."""
    await pilot.pause(PREVIEW_PAUSE)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
