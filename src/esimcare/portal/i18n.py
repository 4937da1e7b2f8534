"""The portal's languages: Babel catalogs read once at start-up, and per-request formatting.

Message ids are the English texts, so English needs no catalog; Russian and Simplified Chinese
come from ``esimcare/i18n/<lang>/LC_MESSAGES/messages.po`` (read directly, no compile step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from esimcare.kit.local_time import BABEL_LOCALE, UTC_ZONE, local_date, local_datetime
from esimcare.kit.money import Money

LANGUAGES = ("ru", "en", "zh")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"ru": "Русский", "en": "English", "zh": "中文"}
HTML_LANG = {"ru": "ru", "en": "en", "zh": "zh-Hans"}
CATALOG_DIR = Path(__file__).resolve().parent.parent / "i18n"


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a message id for extraction; translated later, where the language is known."""
    return message


@cache
def catalog(language: str) -> dict[str, str]:
    """msgid -> msgstr for one language; untranslated and fuzzy entries are left out."""
    path = CATALOG_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in parsed
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }


def load_catalogs() -> None:
    """Read every catalog now, so a broken .po file stops start-up, not a page view."""
    for language in LANGUAGES:
        catalog(language)


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an Accept-Language header (q-values respected)."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else None


@dataclass(frozen=True)
class Translator:
    """What a template needs to speak one language: ``_`` and formatting of money and time.

    Times are shown in ``zone``: the operator's (its policy's ``time_zone``), UTC on pages
    that belong to no operator."""

    language: str
    zone: ZoneInfo = UTC_ZONE

    def gettext(self, message: str, **params: Any) -> str:
        text = catalog(self.language).get(message, message)
        return text % params if params else text

    def money(self, amount: Money) -> str:
        return amount.display(BABEL_LOCALE[self.language])

    def date(self, moment: datetime) -> str:
        return local_date(moment, self.zone, self.language)

    def datetime(self, moment: datetime) -> str:
        return local_datetime(moment, self.zone, self.language)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]
