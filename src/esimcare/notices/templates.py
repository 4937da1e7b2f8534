"""Customer messages (SMS and e-mail), as English message ids translated from the catalogs.

Kept short enough for one or two SMS segments; the e-mail variant has a subject line. A code
SMS may arrive twice or late (SMS delivery is at least once), so its text says that only the
latest code counts, which is how codes are checked. A date passed in is written out for the
reader's language and the operator's time zone, never as a raw timestamp.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from esimcare.i18n import DEFAULT_TIME_ZONE, N_, format_local_datetime, translate

# name -> (subject, body); the body's %(name)s parameters are filled in by ``render``.
TEMPLATES: dict[str, tuple[str, str]] = {
    "verification_code": (
        N_("Verification code"),
        N_(
            "%(operator)s: code %(code)s to cancel eSIM %(msisdn)s. Never share it. Valid "
            "%(minutes)s min. Only the latest code counts."
        ),
    ),
    "cancellation_requested": (
        N_("eSIM cancellation requested"),
        N_(
            "%(operator)s: cancellation of eSIM %(msisdn)s requested, reference %(reference)s. "
            "Takes effect %(effective)s. %(undo)sIf this was not you, call %(hotline)s."
        ),
    ),
    "undo_hint": ("", N_("To undo: %(link)s ")),
    "cancellation_undone": (
        N_("eSIM cancellation undone"),
        N_(
            "%(operator)s: cancellation %(reference)s of eSIM %(msisdn)s was undone; the number "
            "keeps working."
        ),
    ),
    "cancellation_completed": (
        N_("eSIM cancelled"),
        N_(
            "%(operator)s: eSIM %(msisdn)s is cancelled (reference %(reference)s). Final bill "
            "%(bill)s, refund %(refund)s. %(device)s"
        ),
    ),
    "delete_on_device_hint": (
        "",
        N_("The profile is still on your phone: delete it in Settings (Mobile/Cellular)."),
    ),
}


def render(
    name: str, language: str, *, time_zone: str = DEFAULT_TIME_ZONE, **params: Any
) -> tuple[str, str]:
    """Subject and body in ``language``; datetimes are formatted for it and ``time_zone``."""
    subject, body = TEMPLATES[name]
    words = {
        key: format_local_datetime(value, language, time_zone)
        if isinstance(value, datetime)
        else value
        for key, value in params.items()
    }
    return (translate(subject, language) if subject else ""), translate(body, language, **words)
