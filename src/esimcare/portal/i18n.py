"""The portal's languages: the shared catalogs (``esimcare.i18n``) and per-request formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from esimcare.i18n import (
    CATALOG_DIR,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    N_,
    catalog,
    translate,
)
from esimcare.kit.local_time import BABEL_LOCALE, UTC_ZONE, local_date, local_datetime
from esimcare.kit.money import Money

__all__ = ["CATALOG_DIR", "DEFAULT_LANGUAGE", "LANGUAGES", "N_", "Translator", "catalog"]

LANGUAGE_NAMES = {"ru": "Русский", "en": "English", "zh": "中文"}
HTML_LANG = {"ru": "ru", "en": "en", "zh": "zh-Hans"}


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
        return translate(message, self.language, **params)

    def money(self, amount: Money) -> str:
        return amount.display(BABEL_LOCALE[self.language])

    def date(self, moment: datetime) -> str:
        return local_date(moment, self.zone, self.language)

    def datetime(self, moment: datetime) -> str:
        return local_datetime(moment, self.zone, self.language)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]
