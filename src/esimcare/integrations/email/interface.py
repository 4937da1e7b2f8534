"""E-mail to a customer."""

from __future__ import annotations

from typing import Protocol


class EmailGateway(Protocol):
    """Returns a message id. ``message_key`` is stable for one logical message.

    Raises TransientIntegrationError or PermanentIntegrationError.
    """

    def send(self, *, to: str, subject: str, body: str, message_key: str) -> str: ...
