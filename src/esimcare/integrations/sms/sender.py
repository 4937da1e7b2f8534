"""What an SMS sender id may be: a phone number or a short alphanumeric name (TS 23.040 9.1.2.5:
an alphanumeric originating address holds at most 11 GSM 7-bit characters)."""

from __future__ import annotations

from enum import StrEnum

from esimcare.integrations.sms.sms_text import is_gsm7


class SenderKind(StrEnum):
    NUMBER = "number"
    ALPHANUMERIC = "alphanumeric"


def sender_kind(sender: str) -> SenderKind:
    """Raises ValueError for anything that is neither kind."""
    digits = sender.removeprefix("+")
    if digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 15:
        return SenderKind.NUMBER
    if 1 <= len(sender) <= 11 and sender.isascii() and sender.isprintable() and is_gsm7(sender):
        return SenderKind.ALPHANUMERIC
    raise ValueError(f"an SMS sender is a number or 1-11 letters and digits, not {sender!r}")
