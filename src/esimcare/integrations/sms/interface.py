"""Text messages to a phone number."""

from __future__ import annotations

from typing import Protocol


class SmsGateway(Protocol):
    """Returns the provider's message id. ``message_key`` is stable for one logical message, so a
    provider that deduplicates (and our outbox) never delivers it twice.

    Raises TransientIntegrationError or PermanentIntegrationError.
    """

    def send(self, *, to: str, body: str, message_key: str) -> str: ...
