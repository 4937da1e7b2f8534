"""EmailOutbox: the development e-mail gateway, which writes messages to the outbox table."""

from __future__ import annotations

from esimcare.integrations.email.address import check_address
from esimcare.kit.clock import Clock
from esimcare.sandbox.faults import FaultInjector
from esimcare.sandbox.outboxes import Outbox, OutboxMessage
from esimcare.sandbox.store import EmulatorStore

CHANNEL = "email"


class EmailOutbox:
    """Implements ``EmailGateway``; ``fail_next`` injects faults (an emulator-only feature)."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self._outbox = Outbox(store, clock)
        self._faults = FaultInjector("e-mail outbox")

    def fail_next(self, n: int, *, transient: bool = True) -> None:
        self._faults.fail_next(n, transient=transient)

    def send(self, *, to: str, subject: str, body: str, message_key: str) -> str:
        self._faults.check()
        check_address(to)
        return self._outbox.deliver(
            channel=CHANNEL, to=to, subject=subject, body=body, message_key=message_key
        )

    def messages(self, to: str | None = None) -> list[OutboxMessage]:
        """E-mails newest first, optionally to one address."""
        return self._outbox.messages(to=to, channel=CHANNEL)
