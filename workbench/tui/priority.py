"""Background work yields the processor to the screen.

Opening a big stub starts several workers at once (section hashes, the preview, the PCR
prediction in a child process, sbverify) on what may be a two-core machine: together they
would take both cores, and every key pressed meanwhile waits for one. So background work runs
one piece at a time, leaving a core to the screen, and at a lower priority: on Linux each
thread has its own nice value, and the processes a thread starts inherit it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BACKGROUND_NICENESS = 10
_LANE = threading.Semaphore(1)


def lower_priority() -> None:
    """Lower the calling thread's priority (a no-op where threads cannot be reniced)."""
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + BACKGROUND_NICENESS))
    except (AttributeError, OSError):
        pass


@contextmanager
def in_background() -> Iterator[None]:
    """For a worker's body: a lower priority, and the one background lane."""
    lower_priority()
    with _LANE:
        yield
