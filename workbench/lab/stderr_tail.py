"""The last lines a child process wrote to stderr: the one-line reason when it fails."""

from __future__ import annotations

from collections import deque
from typing import IO


class StderrTail:
    def __init__(self, keep: int = 20) -> None:
        self.lines: deque[str] = deque(maxlen=keep)

    def drain(self, stream: IO[bytes]) -> None:
        """Read until the child closes stderr (run it in a thread), keeping non-blank lines."""
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").strip()
            if line:
                self.lines.append(line)

    def last(self, default: str) -> str:
        return self.lines[-1] if self.lines else default

    def text(self) -> str:
        return "\n".join(self.lines)
