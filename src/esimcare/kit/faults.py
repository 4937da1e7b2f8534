"""Crash points for the crash-recovery tests: ``ESIMCARE_CRASH_AT=<point>`` ends the process
there, as ``kill -9`` would, so a test can prove that a restart finishes the work exactly once.
Unset (always, outside those tests) it does nothing."""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    if os.environ.get("ESIMCARE_CRASH_AT") == name:
        os._exit(137)
