"""Text messages to a phone number."""

from __future__ import annotations

from typing import Protocol


class SmsGateway(Protocol):
    """Returns the provider's message id. ``message_key`` is stable for one logical message, so a
    provider that deduplicates (and our outbox) never delivers it twice. SMPP cannot deduplicate:
    over SMPP delivery is at least once (see ``smpp.py``), and texts are written so that a
    duplicate does no harm.

    ``sender`` is the operator's sender id (a number or up to 11 letters); None means the
    gateway's configured default.

    Raises TransientIntegrationError or PermanentIntegrationError.
    """

    def send(self, *, to: str, body: str, message_key: str, sender: str | None = None) -> str: ...
