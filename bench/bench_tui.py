"""How the TUI responds on a big stub: a 200 MiB fat stub opened in `workbench open`, driven by
Textual's Pilot (a real app on a virtual terminal, no screen needed).

Measured, per key, from the key press until the app's own thread has done all the work the key
caused: its message handlers, layout and compositing, and what Textual defers to idle time and
to the next frame. The app's thread is watched by its CPU time: the work is done at the last
5 ms slice in which that thread ran, followed by 60 ms in which it did not. Work handed to
thread workers does not count, which is the point (Pilot's own "process is idle" test counts
every thread's CPU time, and sleeps at least 40 ms a key, so it is not used). First paint:
from creating the app until its first screen is laid out and composited. Then tab switches
(the Edit tab puts the focus in a field, where digits are typed: Esc leaves it first), moving
through the section table, typing into the command line while the preview recomputes.
Goal: first paint under 500 ms, no key waits more than 100 ms. The peer is the same app on the
1 MiB-initrd sample tree.

Run: .venv/bin/python -m bench.bench_tui [--mib 200]
Writes bench/results/tui.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, format_table
from workbench import contract
from workbench.builder import build_tree, default_stub

KERNEL = REPO / "samples" / "build" / "vmlinuz"
INITRD = REPO / "samples" / "build" / "initrd.img"
GOAL_MS = 100.0
FIRST_PAINT_GOAL_MS = 500.0


def goal(what: str) -> float:
    return FIRST_PAINT_GOAL_MS if what == "first paint" else GOAL_MS


def key_event(key: str) -> Any:
    """The event a terminal delivers for `key` (a name like "down", or one character)."""
    from textual import events
    from textual.keys import _character_to_key

    if key == " ":
        return events.Key("space", " ")
    if len(key) == 1:
        return events.Key(key if key.isalnum() else _character_to_key(key), key)
    return events.Key(key, None)


SLICE = 0.005  # seconds between looks at the app thread's CPU time
BUSY = 0.0005  # more CPU time than this in one slice: the app was working
QUIET = 0.060  # this long without work: the key is done


async def done_working(started: float) -> float:
    """Milliseconds from `started` to the end of the app thread's last busy slice. The app runs
    on this thread (Pilot drives it from the same event loop); workers run on others."""
    last_busy = time.perf_counter()
    while time.perf_counter() - last_busy < QUIET:
        cpu = time.thread_time()
        await asyncio.sleep(SLICE)
        if time.thread_time() - cpu > BUSY:
            last_busy = time.perf_counter()
    return (last_busy - started) * 1000


async def first_frame(pilot: Any, started: float) -> float:
    """Milliseconds from `started` until the screen is composited with nothing left pending
    (twice in a row: handling one message may post others)."""
    quiet = 0
    while quiet < 2:
        await pilot._wait_for_screen()
        screen = pilot.app.screen
        if screen._layout_required or screen._repaint_required or screen._dirty_widgets:
            screen._on_timer_update()
            quiet = 0
        else:
            quiet += 1
    return (time.perf_counter() - started) * 1000


async def press(pilot: Any, key: str) -> float:
    """Milliseconds until the app is done with `key`."""
    started = time.perf_counter()
    pilot.app._driver.send_message(key_event(key))
    return await done_working(started)


async def measure(stub: Path, root: Path) -> dict[str, list[float]]:
    from textual.widgets import Input

    from workbench.tui.app import WorkbenchApp
    from workbench.tui.overview import OverviewPane

    times: dict[str, list[float]] = {}

    def record(what: str, ms: float) -> None:
        times.setdefault(what, []).append(ms)

    started = time.perf_counter()
    app = WorkbenchApp(stub, root=root)
    # Animations (the tab underline slides for about 0.4 s) are not waits: measure the work.
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        for box in app.query(Input):
            box.cursor_blink = False  # a blinking cursor is work every half second
        record("first paint", await first_frame(pilot, started))
        assert "Flavour" in app.query_one(OverviewPane).text
        for key in ("2", "3", "escape", "4", "5", "1", "2"):
            # The Edit tab puts the focus in its first field, where digits are typed: Esc
            # leaves the field first, as a user does.
            what = "leaving a field (Esc)" if key == "escape" else "tab switch"
            record(what, await press(pilot, key))
        for key in ["down"] * 12 + ["up"] * 12:
            record("section table move", await press(pilot, key))
        await press(pilot, "3")
        box = app.query_one("#edit-cmdline", Input)
        box.focus()
        await press(pilot, "end")
        for char in " wb.bench=1":
            record("typing into the command line", await press(pilot, char))
        assert box.value.endswith(" wb.bench=1"), box.value
        # The preview recomputes in a worker once typing pauses: the UI never waits for it.
        started = time.perf_counter()
        await asyncio.sleep(0.5)
        await app.workers.wait_for_complete()
        record("preview of the edit (in a worker)", (time.perf_counter() - started) * 1000)
    return times


def tree(directory: Path, pad_mib: int) -> Path:
    initrd = INITRD
    if pad_mib:
        initrd = directory / "big-initrd.img"
        initrd.write_bytes(INITRD.read_bytes() + os.urandom(pad_mib << 20))
    root = directory / f"fat-{pad_mib}"
    build_tree(stub=default_stub(), kernel=KERNEL, initrd=initrd, cmdline="console=ttyS0",
               out_dir=root, fat=True)  # fmt: skip
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=200, help="padding of the big stub's initrd")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as scratch:
        for label, pad in (("sample (15 MiB fat stub)", 0), (f"{args.mib} MiB fat stub", args.mib)):
            root = tree(Path(scratch), pad)
            stub = root / contract.BOOT_PATH
            times = asyncio.run(measure(stub, root))
            size = stub.stat().st_size >> 20
            results[label] = {
                what: {"median_ms": round(statistics.median(v), 1), "max_ms": round(max(v), 1),
                       "keys": len(v)}
                for what, v in times.items()
            }  # fmt: skip
            print(f"{label}: {size} MiB measured", file=sys.stderr, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"goal_ms": GOAL_MS, "results": results}
    (RESULTS / "tui.json").write_text(json.dumps(document, indent=2) + "\n")
    rows = [
        (label, what, f"{r['median_ms']:.1f}", f"{r['max_ms']:.1f}",
         "ok" if r["max_ms"] <= goal(what) or "worker" in what else "MISSED")
        for label, measured in results.items()
        for what, r in measured.items()
    ]  # fmt: skip
    print(format_table(("stub", "action", "median ms", "max ms", "goal met"), rows))


if __name__ == "__main__":
    main()
