"""Helpers for the boot tests: record a run's events and check nothing of the lab survives it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from workbench.lab.events import Event, LabNote, SerialLine, StubStep, TftpTransfer

PID_NOTE = re.compile(r"\(pid (\d+)\)")


class Recorder:
    """An on_event callback that keeps every event and the lab's process ids."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.pids: list[int] = []
        self.netns: str | None = None

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, LabNote):
            match = PID_NOTE.search(event.text)
            if match:
                self.pids.append(int(match.group(1)))
            if event.text.startswith("qemu started") and self.netns is None:
                # QEMU runs inside the lab's namespace: remember which one it is.
                try:
                    netns = os.readlink(f"/proc/{match.group(1)}/ns/net") if match else None
                except OSError:
                    netns = None
                if netns != os.readlink("/proc/self/ns/net"):
                    self.netns = netns

    def serial(self) -> str:
        return "\n".join(e.text for e in self.events if isinstance(e, SerialLine))

    def steps(self, step: str) -> list[StubStep]:
        return [e for e in self.events if isinstance(e, StubStep) and e.step == step]

    def transfers(self, state: str) -> list[TftpTransfer]:
        return [e for e in self.events if isinstance(e, TftpTransfer) and e.state == state]


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def processes_in_netns(netns: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "net") == netns:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def assert_nothing_left(recorder: Recorder) -> None:
    assert recorder.pids, "the run named no lab process"
    alive = [pid for pid in recorder.pids if running(pid)]
    assert alive == [], f"lab processes still running: {alive}"
    if recorder.netns is not None:
        assert processes_in_netns(recorder.netns) == [], f"{recorder.netns} still has processes"
