"""Helpers for driving the app: its slow work runs in thread workers, so a test that reads
what a worker fills in (preview, Secure Boot readiness, PCR prediction, rehash) waits for them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

# The preview is recomputed once typing pauses for this long (PREVIEW_DELAY) plus margin.
PREVIEW_PAUSE = 0.4


async def settled(pilot: Pilot) -> None:
    """Let pending timers fire and every worker finish, then let the screen catch up."""
    await pilot.pause(PREVIEW_PAUSE)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def descendants() -> list[str]:
    """Command names of every live process below this one."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name_end = stat.rindex(")")
        fields = stat[name_end + 2 :].split()
        if fields[0] == "Z":
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        names[pid] = stat[stat.index("(") + 1 : name_end]
    me = os.getpid()
    found = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor > 1:
            if ancestor == me:
                found.append(names[pid])
                break
            ancestor = parents.get(ancestor)
    return found


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.2)
