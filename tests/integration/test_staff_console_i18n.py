"""Every console message is translated into Russian and Chinese, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

import esimcare.console
from esimcare.console.i18n import console_catalog
from esimcare.context import Context
from tests.integration.portal_support import portal_client

CONSOLE = Path(esimcare.console.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def console_msgids() -> set[str]:
    found = extract_from_dir(
        str(CONSOLE),
        method_map=[("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
        options_map={"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
        keywords={"_": None, "N_": None},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


@pytest.mark.parametrize("language", ["ru", "zh"])
def test_every_console_message_is_translated(language: str) -> None:
    ids = console_msgids()
    assert len(ids) > 80  # the extraction itself works
    catalog = console_catalog(language)
    missing = sorted(ids - catalog.keys())
    assert not missing, f"untranslated in {language}: {missing}"
    for msgid in ids:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(catalog[msgid])), msgid


def test_the_login_page_speaks_the_chosen_language(demo: Context) -> None:
    assert "Вход для сотрудников" in portal_client(demo).get("/staff/login?lang=ru").text
    assert "员工登录" in portal_client(demo, language="zh-CN").get("/staff/login").text
