"""The earliest deadline among many transfers, for one event loop: a heap with lazy updates.

A transfer moves its deadline on every window it sends; pushing a heap entry each time would
grow the heap by one entry per window. Instead each transfer keeps one entry, at the time it
was pushed; when that entry comes due and the transfer's deadline has moved later, the entry
is pushed again at the new time. Only a deadline moved earlier pushes a second entry (the
older one is then stale and skipped). The loop sleeps until the first entry: an idle transfer
costs nothing until its own deadline.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Protocol


class Timed(Protocol):
    @property
    def deadline(self) -> float: ...


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timed]] = []
        self._queued: dict[int, float] = {}  # id(item) -> the time of its live entry
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._queued)

    def watch(self, item: Timed) -> None:
        """Call after `item.deadline` may have changed (an infinite one is not queued)."""
        queued = self._queued.get(id(item))
        if item.deadline == float("inf") or (queued is not None and queued <= item.deadline):
            return  # its entry comes first and is moved on then
        self._queued[id(item)] = item.deadline
        heapq.heappush(self._heap, (item.deadline, next(self._order), item))

    def forget(self, item: Timed) -> None:
        self._queued.pop(id(item), None)

    def first(self) -> float | None:
        """The time of the earliest entry (maybe stale: an early wake is harmless)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Timed]:
        """The items whose deadline has passed; entries of moved deadlines are pushed again."""
        items = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, item = heapq.heappop(heap)
            if self._queued.get(id(item)) != at:
                continue  # stale: forgotten, or a later push replaced it
            if item.deadline > now:
                if item.deadline == float("inf"):
                    del self._queued[id(item)]
                else:
                    self._queued[id(item)] = item.deadline
                    heapq.heappush(heap, (item.deadline, next(self._order), item))
                continue
            del self._queued[id(item)]
            items.append(item)
        return items
