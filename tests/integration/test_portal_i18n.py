"""Languages: every message the portal uses is translated; the choice follows ?lang, the
cookie, then Accept-Language, then English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from portal_support import portal_client

import esimcare.portal
from esimcare.context import Context
from esimcare.portal.i18n import CATALOG_DIR, negotiate

PORTAL = Path(esimcare.portal.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def portal_msgids() -> set[str]:
    found = extract_from_dir(
        str(PORTAL),
        method_map=[("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
        options_map={"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
        keywords={"_": None, "N_": None},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_the_portal_has_many_messages_to_translate() -> None:
    assert len(portal_msgids()) > 100  # the extraction itself works


@pytest.mark.parametrize("language", ["ru", "zh"])
def test_every_portal_message_is_translated(language: str) -> None:
    with (CATALOG_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(portal_msgids() - translated.keys())
    assert not missing, f"untranslated in {language}: {missing}"
    for msgid, text in translated.items():
        assert set(PLACEHOLDER.findall(str(msgid))) == set(PLACEHOLDER.findall(str(text))), msgid


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("ru-RU,ru;q=0.9", "ru"),
        ("de-DE,de;q=0.9,ru;q=0.5,en;q=0.7", "en"),
        ("fr", None),
        ("", None),
        ("en;q=0.1, ru;q=0.2", "ru"),
    ],
)
def test_accept_language_picks_the_best_supported_language(
    header: str, expected: str | None
) -> None:
    assert negotiate(header) == expected


def test_accept_language_is_the_default_and_english_the_fallback(demo: Context) -> None:
    assert 'lang="zh-Hans"' in portal_client(demo, "zh-CN,zh;q=0.9").get("/").text
    assert 'lang="en"' in portal_client(demo, "fr-FR").get("/").text


def test_lang_parameter_sets_a_cookie_that_later_pages_follow(demo: Context) -> None:
    client = portal_client(demo, "en-US")
    first = client.get("/?lang=ru")
    assert "__Host-esimcare-lang=ru" in first.headers["set-cookie"]
    assert 'lang="ru"' in client.get("/mts/login").text
    assert 'lang="zh-Hans"' in client.get("/mts/login?lang=zh").text
    assert 'lang="zh-Hans"' in client.get("/").text


def test_an_unknown_lang_parameter_is_ignored(demo: Context) -> None:
    page = portal_client(demo, "ru").get("/?lang=xx")
    assert 'lang="ru"' in page.text
    assert "esimcare-lang" not in page.headers.get("set-cookie", "")
