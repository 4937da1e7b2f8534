"""Rendering console pages: one Jinja2 environment, the navigation, and the portal's headers.

The navigation is a list that later console pages extend with ``add_nav_item``; each item
shows only to roles that hold its permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from esimcare.cancellations.warning_texts import warning_text
from esimcare.console.deps import STAFF_ANON_COOKIE, csrf_for_console, get_ctx
from esimcare.console.i18n import ConsoleTranslator
from esimcare.portal import texts
from esimcare.portal.deps import LANG_COOKIE, LANG_COOKIE_MAX_AGE, language_of, set_cookie
from esimcare.portal.i18n import LANGUAGE_NAMES, LANGUAGES, N_
from esimcare.portal.rendering import SECURITY_HEADERS, format_number, group_digits
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission, can

_ENV = Environment(
    loader=PackageLoader("esimcare.console", "templates"),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(phone=format_number, grouped=group_digits)


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an English message id, translated when shown
    permission: Permission


NAV: list[NavItem] = [
    NavItem("/staff/", N_("Search"), Permission.LOOK_UP),
    NavItem("/staff/support", N_("Support requests"), Permission.LOOK_UP),
]


def add_nav_item(item: NavItem) -> None:
    """For console pages added later (failed work, jobs, reports, audit log)."""
    if all(existing.path != item.path for existing in NAV):
        NAV.append(item)


def nav_for(auth: StaffAuth | None) -> list[NavItem]:
    if auth is None or not auth.complete:
        return []
    return [item for item in NAV if can(auth.staff.role, item.permission)]


def _allowed(auth: StaffAuth | None, permission: str) -> bool:
    return auth is not None and auth.complete and can(auth.staff.role, Permission(permission))


def render(
    request: Request,
    template: str,
    *,
    auth: StaffAuth | None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    translator = ConsoleTranslator(language_of(request))
    token, fresh_anon = csrf_for_console(request)
    page = {
        "_": translator.gettext,
        "t": translator,
        "lang": translator.language,
        "csrf": token,
        "auth": auth,
        "me": auth.staff if auth else None,
        "nav": nav_for(auth),
        "path": request.url.path,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "switch_path": "/" + quote(request.url.path.lstrip("/\\"), safe="/"),
        "policies": get_ctx(request).policies,
        "warning": partial(warning_text, language=translator.language),
        "texts": texts,
        "allowed": partial(_allowed, auth),
    }
    html = _ENV.get_template(template).render(**page, **values)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if fresh_anon:
        set_cookie(response, STAFF_ANON_COOKIE, fresh_anon)
    if request.query_params.get("lang") in LANGUAGES:
        set_cookie(response, LANG_COOKIE, translator.language, max_age=LANG_COOKIE_MAX_AGE)
    return response
