"""How an external call failed decides what the workflow does next."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base for failures of an external system."""


class TransientIntegrationError(IntegrationError):
    """Network error, time-out, 5xx, overload: the same call may succeed later (retry)."""


class PermanentIntegrationError(IntegrationError):
    """A definite answer that retrying cannot change (refused, unknown subscriber, bad data)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
