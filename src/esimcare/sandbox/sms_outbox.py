"""SmsOutbox: the development SMS gateway, which writes messages to the outbox table.

Developers read one-time codes from the outbox (or the dev endpoint) instead of a phone.
"""

from __future__ import annotations

from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.kit.clock import Clock
from esimcare.sandbox.faults import FaultInjector
from esimcare.sandbox.outboxes import Outbox, OutboxMessage
from esimcare.sandbox.store import EmulatorStore

CHANNEL = "sms"


class SmsOutbox:
    """Implements ``SmsGateway``; ``fail_next`` injects faults (an emulator-only feature)."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self._outbox = Outbox(store, clock)
        self._faults = FaultInjector("sms outbox")

    def fail_next(self, n: int, *, transient: bool = True) -> None:
        self._faults.fail_next(n, transient=transient)

    def send(self, *, to: str, body: str, message_key: str, sender: str | None = None) -> str:
        self._faults.check()
        if not _looks_like_e164(to):
            raise PermanentIntegrationError(f"not an E.164 number: {to!r}", code="invalid-number")
        return self._outbox.deliver(
            channel=CHANNEL, to=to, subject=None, body=body, message_key=message_key
        )

    def messages(self, to: str | None = None) -> list[OutboxMessage]:
        """SMS messages newest first, optionally to one number."""
        return self._outbox.messages(to=to, channel=CHANNEL)


def _looks_like_e164(number: str) -> bool:
    """A real SMS provider refuses non-E.164 numbers; so does the stand-in."""
    digits = number.removeprefix("+")
    return number.startswith("+") and digits.isdigit() and 8 <= len(digits) <= 15
