"""One translation pipeline: every text people read is extracted from the source and present,
translated and not fuzzy, in the ru and zh catalogs (English is the message id itself)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po
from jinja2 import Environment

import esimcare
from esimcare.i18n import CATALOG_DIR

SOURCE = Path(esimcare.__file__).parent
TRANSLATED = ("ru", "zh")
KEYWORDS = {"_": None, "N_": None, "gettext": None}
TEMPLATE_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true"}
# Where the error classes live whose titles the API answers in the caller's language.
ERROR_SOURCES = (
    "errors.py",
    *("bulk", "customers", "esims", "idempotency", "operations", "staff", "webhooks"),
)
# Where each catalog's texts live (babel.cfg names the same extractors).
DOMAINS = {
    "messages": ("portal", "notices", "cancellations", "i18n", "api", *ERROR_SOURCES),
    "console": ("console",),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted(folders: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for folder in folders:
        for message in _messages_of(SOURCE / folder):
            if isinstance(message, str) and message:
                found.add(message)
    return found


def _messages_of(path: Path) -> Iterator[object]:
    """The marked texts of a folder (templates and Python) or of one Python file."""
    if path.is_file():
        for _, message, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            yield message
        return
    for _, _, message, _, _ in extract_from_dir(
        str(path),
        method_map=[("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
        options_map={"**/templates/**.html": TEMPLATE_OPTIONS},
        keywords=KEYWORDS,
    ):
        yield message


def read_catalog(language: str, domain: str) -> Catalog:
    with (CATALOG_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle, locale=language)


def entries(language: str, domain: str) -> dict[str, str]:
    """msgid -> msgstr of the usable entries (fuzzy ones are not used, so they do not count)."""
    return {
        str(m.id): str(m.string)
        for m in read_catalog(language, domain)
        if m.id and m.string and not m.fuzzy
    }


def test_extraction_finds_the_texts_of_every_source() -> None:
    messages = extracted(DOMAINS["messages"])
    assert len(messages) > 250
    assert "Verification code" in messages  # a notice
    assert "This operator does not refund the remaining balance." in messages  # a warning
    assert "card **** %(digits)s" in messages  # a refund destination
    assert len(extracted(DOMAINS["console"])) > 100


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_no_catalog_misses_a_text_or_holds_it_untranslated_or_fuzzy(
    language: str, domain: str
) -> None:
    catalog = read_catalog(language, domain)
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    empty = sorted(str(m.id) for m in catalog if m.id and not m.string)
    usable = set(entries(language, "messages"))
    if domain == "console":  # the console reads messages.po first, then its own file
        usable |= set(entries(language, "console"))
    missing = sorted(extracted(DOMAINS[domain]) - usable)
    assert (missing, empty, fuzzy) == ([], [], []), f"{language}/{domain}.po"


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_no_catalog_keeps_texts_the_source_no_longer_has(language: str, domain: str) -> None:
    wanted = extracted(DOMAINS[domain])
    if domain == "messages":
        wanted |= extracted(DOMAINS["console"])  # the console may reuse a portal entry
    stale = sorted(set(entries(language, domain)) - wanted)
    assert not stale, f"{language}/{domain}.po has entries nothing uses: {stale}"


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_every_placeholder(language: str, domain: str) -> None:
    for msgid, text in entries(language, domain).items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), msgid


def test_chinese_uses_full_width_colons_and_brackets() -> None:
    for msgid, text in entries("zh", "messages").items():
        bare = PLACEHOLDER.sub("", text)
        assert not re.search(r"[()]|:(?!//)", bare), f"{msgid!r} -> {text!r}"


# Words that read the same in every language: product and platform names, identifiers.
SAME_IN_EVERY_LANGUAGE = {"eSIM", "iPhone", "Android", "ICCID", "EID", "esimcare", "SM-DP+"}
# Attributes whose values people see or hear (``value`` only on buttons, see below).
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}
BUTTON_TYPES = {"submit", "button", "reset"}


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_data(self, data: str) -> None:
        self.found.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend(v for k, v in attrs if k in VISIBLE_ATTRIBUTES and v)
        if tag == "input" and dict(attrs).get("type") in BUTTON_TYPES:
            self.found.append(dict(attrs).get("value") or "")


def untranslated_words(source: str) -> list[str]:
    """Words written straight into a template, outside ``{{ _(...) }}`` and other tags."""
    env = Environment(trim_blocks=True, lstrip_blocks=True, autoescape=True)  # lexing only
    literal, names = [], ["", ""]
    for _, kind, value in env.lex(source):
        if kind == "name":
            names = [names[-1], value]
        elif kind == "data":  # text between Jinja tags; what is inside them is code
            # ``{% block body_class %}narrow{% endblock %}`` fills a class attribute: markup.
            in_class_block = names[0] == "block" and names[1].endswith("_class")
            literal.append("" if in_class_block else value)
            names = ["", ""]
    parser = _VisibleText()
    parser.feed("".join(literal))
    words = re.findall(r"[^\W\d_][\w+-]*", " ".join(parser.found))
    return [word for word in words if word not in SAME_IN_EVERY_LANGUAGE]


def templates() -> Iterator[Path]:
    for door in ("portal", "console"):
        yield from sorted((SOURCE / door / "templates").glob("*.html"))


@pytest.mark.parametrize("template", list(templates()), ids=lambda path: path.name)
def test_every_visible_text_of_a_template_goes_through_the_catalogs(template: Path) -> None:
    assert untranslated_words(template.read_text()) == []


def test_the_visible_text_check_finds_a_literal_word() -> None:
    assert untranslated_words('<p>{{ _("Fine") }} Hello <img alt="Logo"></p>') == [
        "Hello",
        "Logo",
    ]
