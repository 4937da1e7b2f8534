"""The console's words: the portal's catalogs plus the console's own (``console.po``).

The console's catalog is a file of its own beside the portal's ``messages.po``, so pages added
to the console later extend it without touching the customer portal's translations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from babel.messages.pofile import read_po

from esimcare.portal.i18n import CATALOG_DIR, DEFAULT_LANGUAGE, LANGUAGES, Translator, catalog


@cache
def console_catalog(language: str) -> dict[str, str]:
    merged = dict(catalog(language))
    path = CATALOG_DIR / language / "LC_MESSAGES" / "console.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return merged
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    merged.update(
        {
            str(message.id): str(message.string)
            for message in parsed
            if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
        }
    )
    return merged


def load_console_catalogs() -> None:
    for language in LANGUAGES:
        console_catalog(language)


@dataclass(frozen=True)
class ConsoleTranslator(Translator):
    def gettext(self, message: str, **params: Any) -> str:
        text = console_catalog(self.language).get(message, message)
        return text % params if params else text
