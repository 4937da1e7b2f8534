"""Rendering portal pages: one Jinja2 environment, the footer's data and safe headers."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse

from esimcare.cancellations.warning_texts import warning_text
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.local_time import UTC_ZONE
from esimcare.operators.policy import Policy
from esimcare.portal import honest, texts
from esimcare.portal.deps import (
    ANON_COOKIE,
    LANG_COOKIE,
    LANG_COOKIE_MAX_AGE,
    SESSION_COOKIE,
    csrf_for_page,
    get_ctx,
    language_of,
    set_cookie,
)
from esimcare.portal.flash import clear_flash
from esimcare.portal.i18n import LANGUAGE_NAMES, LANGUAGES, Translator
from esimcare.portal.wording import (
    esim_title,
    group_by_state,
    in_brackets,
    labelled,
    refund_destination,
    short_name,
)

_ENV = Environment(
    loader=PackageLoader("esimcare.portal", "templates"),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


NBSP, NB_HYPHEN = "\u00a0", "\u2011"


def format_number(number: str) -> str:
    """+79160000001 -> +7 916 000-00-01 (each country's own grouping), never broken across
    lines; anything that is no valid number is shown as it is."""
    try:
        spaced = Msisdn.parse(number).international()
    except InvalidIdentifierError:
        return number
    return spaced.replace(" ", NBSP).replace("-", NB_HYPHEN)


def masked_number(number: str) -> str:
    try:
        return Msisdn.parse(number).masked()
    except InvalidIdentifierError:
        return "***"


def group_digits(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def tel_href(number: str) -> str:
    """``tel:+78000000001`` for a hotline written with spaces and dashes."""
    return "tel:" + "".join(ch for ch in number if ch.isdigit() or ch == "+")


_ENV.filters.update(phone=format_number, masked=masked_number, grouped=group_digits, tel=tel_href)
# On a narrow phone the language links shrink to these, so the operator's name keeps its row.
SHORT_LANGUAGE_NAMES = {"ru": "RU", "en": "EN", "zh": "中文"}
_ENV.globals.update(
    texts=texts,
    honest=honest,
    group_by_state=group_by_state,
    short_name=short_name,
    short_language_names=SHORT_LANGUAGE_NAMES,
)


def render(
    request: Request, template: str, *, policy: Policy | None, status: int = 200, **values: Any
) -> HTMLResponse:
    ctx = get_ctx(request)
    translator = Translator(language_of(request), policy.tzinfo if policy else UTC_ZONE)
    token, fresh_anon = csrf_for_page(request, ctx)
    language = translator.language
    page = {
        "_": translator.gettext,
        "t": translator,
        "lang": language,
        "warning": partial(warning_text, language=language),
        "destination": partial(refund_destination, language=language),
        "labelled": partial(labelled, language=language),
        "brackets": partial(in_brackets, language=language),
        "esim_title": partial(esim_title, language=language),
        "policy": policy,
        "policies": ctx.policies,
        "csrf": token,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "switch_path": _switch_path(request),
        "logged_in": policy is not None and SESSION_COOKIE in request.cookies,
    }
    html = _ENV.get_template(template).render(**page, **values)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if fresh_anon:
        set_cookie(response, ANON_COOKIE, fresh_anon)
    clear_flash(request, response)  # shown once: a reload shows the page without it
    if request.query_params.get("lang") in LANGUAGES:
        set_cookie(response, LANG_COOKIE, translator.language, max_age=LANG_COOKIE_MAX_AGE)
    return response


def _switch_path(request: Request) -> str:
    """Where the language links lead: this page, or for a form answer the page it came from."""
    path = request.url.path
    if request.method != "GET":
        path = "/" if path == "/identify" else path.removesuffix("/resend").removesuffix("/undo")
    return "/" + quote(path.lstrip("/\\"), safe="/")


def on_our_site(url: str) -> str:
    """A path on this site. A request path like ``//evil.example`` (or ``/\\evil.example``,
    which browsers read the same) would otherwise be a link to another host."""
    return "/" + url.lstrip("/\\")


def redirect(url: str) -> RedirectResponse:
    """Post/Redirect/Get: always 303, so a reload never sends a form twice; never off-site."""
    return RedirectResponse(
        on_our_site(url), status_code=303, headers={"Cache-Control": "no-store"}
    )
