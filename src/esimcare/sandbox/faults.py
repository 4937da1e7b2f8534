"""Fault injection for the built-in emulators.

Retry paths are the ones that break in production and are never exercised on a sunny day, so
every emulator can be told to fail its next calls the way a real system fails: with a transient
error (over HTTP a 503) or a permanent refusal. The counter lives in memory on purpose: it is a
test and demo knob, not state of the emulated system.
"""

from __future__ import annotations

import threading

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError


class FaultInjector:
    """Counts down injected failures; thread-safe because emulator apps serve from a pool."""

    def __init__(self, system: str) -> None:
        self._system = system
        self._lock = threading.Lock()
        self._remaining = 0
        self._transient = True

    def fail_next(self, n: int, *, transient: bool = True) -> None:
        """Make the next ``n`` calls fail (``n=0`` clears a pending fault)."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._remaining = n
            self._transient = transient

    def check(self) -> None:
        """Raise the injected failure if one is pending; call at the start of each operation."""
        with self._lock:
            if self._remaining == 0:
                return
            self._remaining -= 1
            transient = self._transient
        if transient:
            raise TransientIntegrationError(f"{self._system}: injected transient fault")
        raise PermanentIntegrationError(f"{self._system}: injected refusal", code="injected-fault")
