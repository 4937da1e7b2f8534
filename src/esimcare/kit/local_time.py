"""Times as a reader sees them: in the operator's time zone, worded in the reader's language.

Moments are stored and exchanged in UTC (the API speaks ISO 8601 with ``Z``); only what a person
reads — a portal page, an SMS or an e-mail — is turned into local time, with the zone named so
a reader elsewhere is not misled. Babel words dates and zone names per language.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name

UTC_ZONE = ZoneInfo("UTC")
# The Babel locale each reader language is formatted in (the language, not a country: a
# Russian-speaking reader anywhere reads Russian dates).
BABEL_LOCALE = {"ru": "ru", "en": "en_GB", "zh": "zh_Hans"}
FALLBACK_LOCALE = "en_GB"


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone (``"Asia/Vladivostok"``); ValueError names a wrong one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like Asia/Tokyo") from None


def babel_locale(language: str) -> str:
    return BABEL_LOCALE.get(language, FALLBACK_LOCALE)


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    """Parsed once per language: Babel would parse the identifier on every call."""
    return Locale.parse(babel_locale(language))


@lru_cache(maxsize=64)
def zone_name(zone: ZoneInfo, language: str) -> str:
    """ "Moscow Time", "Москва", "海参崴时间"; plain "UTC" for UTC (Babel knows no place for it).

    Kept once worked out: without a moment the name is the zone's generic one, a constant."""
    if zone.key in ("UTC", "Etc/UTC"):
        return "UTC"
    return str(get_timezone_name(zone, "long", locale=_locale(language)))


def local_date(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """The calendar day in ``zone``: "23 November 2026", "23 ноября 2026 г."."""
    return str(format_date(moment.astimezone(zone), "long", locale=_locale(language)))


def local_datetime(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """ "23 November 2026, 15:00 (Moscow Time)": day, time and the zone it is told in."""
    local = moment.astimezone(zone)
    time = format_time(local, "short", locale=_locale(language))
    return f"{local_date(moment, zone, language)}, {time} ({zone_name(zone, language)})"
