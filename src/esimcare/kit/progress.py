"""A one-line text progress bar for long command-line jobs (no dependency needed)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_REDRAW_S = 0.2


class ProgressBar:
    """Redraws ``label [#####.....]  42%  4200/10000  3.1s`` in place on a stream (stderr).

    On a terminal the line is rewritten with a carriage return; elsewhere (a log file, CI) a
    line is printed at most every few seconds so the log stays readable.
    """

    def __init__(
        self, total: int, label: str, *, stream: TextIO | None = None, width: int = 30
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._drawn = -1
        self._interactive = self.stream.isatty()

    def advance(self, n: int) -> None:
        self.done = min(self.done + n, self.total)
        now = time.monotonic()
        interval = _REDRAW_S if self._interactive else 5.0
        if self.done == self.total or now - self._drawn_at >= interval:
            self._draw(now)

    def close(self) -> None:
        if self._drawn != self.done:
            self._draw(time.monotonic())
        if self._interactive:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        self._drawn = self.done
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        percent = 100 * self.done // self.total
        line = (
            f"{self.label} [{bar}] {percent:3d}%  {self.done}/{self.total}"
            f"  {now - self._started:.1f}s"
        )
        if self._interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
