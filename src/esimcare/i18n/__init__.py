"""One translation pipeline for every text people read: gettext catalogs and Babel formatting.

Message ids are the English texts, so English needs no catalog. Russian and Simplified Chinese
come from ``esimcare/i18n/<lang>/LC_MESSAGES/<domain>.po``, read directly (no compile step):
``messages`` holds the portal, notices, warnings and error titles; ``console`` the staff console.
``tests/unit/test_catalogs.py`` extracts the marked texts from the source and fails when any
catalog misses one, or holds it untranslated or fuzzy.

Features (notices, cancellations) and doors (portal, API, console) all translate here, so this
module imports nothing of ours.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.messages.pofile import read_po

LANGUAGES = ("ru", "en", "zh")
DEFAULT_LANGUAGE = "en"
BABEL_LOCALE = {"ru": "ru_RU", "en": "en_GB", "zh": "zh_Hans_CN"}
CATALOG_DIR = Path(__file__).resolve().parent
# The demo operators are Russian and quote their hotline hours in Moscow time, so that is the
# zone until a policy names its own (``format_local_datetime`` takes the zone as an argument).
DEFAULT_TIME_ZONE = "Europe/Moscow"


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a message id for extraction; translated later, where the language is known."""
    return message


# Zone names people recognise; any other zone is shown as its offset ("GMT+08:00").
ZONE_LABELS = {"Europe/Moscow": N_("Moscow time"), "UTC": N_("UTC")}


@cache
def catalog(language: str, domain: str = "messages") -> dict[str, str]:
    """msgid -> msgstr for one language; untranslated and fuzzy entries are left out."""
    path = CATALOG_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in parsed
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }


def supported(language: str | None) -> str:
    """One of our languages: an unknown or missing one falls back to English."""
    return str(language) if language in LANGUAGES else DEFAULT_LANGUAGE


def translate(message: str, language: str, **params: Any) -> str:
    """The text in ``language`` with ``%(name)s`` parameters filled in."""
    text = catalog(supported(language)).get(message, message)
    return text % params if params else text


def format_local_date(moment: datetime, language: str, tz_name: str = DEFAULT_TIME_ZONE) -> str:
    locale = BABEL_LOCALE[supported(language)]
    return str(format_date(moment.astimezone(ZoneInfo(tz_name)), "long", locale=locale))


def format_local_datetime(moment: datetime, language: str, tz_name: str = DEFAULT_TIME_ZONE) -> str:
    """ "24 November 2026, 14:05 (Moscow time)": the date in words, never a raw ISO timestamp."""
    language = supported(language)
    local = moment.astimezone(ZoneInfo(tz_name))
    locale = BABEL_LOCALE[language]
    time = format_time(local, "short", locale=locale)
    label = ZONE_LABELS.get(tz_name)
    zone = translate(label, language) if label else format_datetime(local, "ZZZZ", locale=locale)
    date = format_local_date(moment, language, tz_name)
    return translate(N_("%(date)s, %(time)s (%(zone)s)"), language, date=date, time=time, zone=zone)
