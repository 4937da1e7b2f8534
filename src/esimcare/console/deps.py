"""Per-request plumbing for the console: its own cookie, CSRF, and role guards as dependencies.

Staff sessions never share a cookie with customers': ``__Host-staff`` (Secure, HttpOnly,
SameSite=Lax, Path=/). A session whose second factor is not done yet reaches only the
second-factor pages; every other page answers with a redirect there.

Pages added later guard themselves with ``Depends(requires(Permission.X))``, which gives the
handler the logged-in ``StaffAuth``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from esimcare.db import transaction
from esimcare.kit.tokens import new_token, same
from esimcare.portal.deps import (
    CsrfRejectedError,
    check_origin,
    clear_cookie,
    client_ip,
    csrf_token,
    get_ctx,
    set_cookie,
)
from esimcare.staff.auth import StaffAuth, resolve_staff_session
from esimcare.staff.errors import StaffSessionEndedError
from esimcare.staff.roles import Permission, can
from esimcare.staff.rules import require

STAFF_COOKIE = "__Host-staff"
STAFF_ANON_COOKIE = "__Host-staff-anon"
PREFIX = "/staff"

__all__ = ["clear_cookie", "client_ip", "get_ctx", "set_cookie"]


class StaffLoginRequiredError(Exception):
    """No live staff session: the console answers with a redirect to its login page."""


class SecondFactorPendingError(Exception):
    """Password done, second factor not: only the second-factor pages may be used."""


def csrf_for_console(request: Request) -> tuple[str, str | None]:
    """The token for this page's forms, and a fresh anonymous cookie to set if there was none."""
    ctx = get_ctx(request)
    basis = request.cookies.get(STAFF_COOKIE) or request.cookies.get(STAFF_ANON_COOKIE)
    fresh = None
    if not basis:
        basis = fresh = new_token()
    return csrf_token(ctx.settings.secret_key, f"staff:{basis}"), fresh


def verify_staff_csrf(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> None:
    """Every console POST: Origin / Sec-Fetch-Site, then the form's token."""
    ctx = get_ctx(request)
    check_origin(request, ctx)
    for name in (STAFF_COOKIE, STAFF_ANON_COOKIE):
        basis = request.cookies.get(name)
        if basis and csrf and same(csrf_token(ctx.settings.secret_key, f"staff:{basis}"), csrf):
            return
    raise CsrfRejectedError("missing or wrong CSRF token")


StaffCsrf = Annotated[None, Depends(verify_staff_csrf)]


def resolve_in(session: Session, request: Request) -> StaffAuth:
    """The session behind the cookie, second factor done or not, inside the caller's transaction."""
    ctx = get_ctx(request)
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        raise StaffLoginRequiredError()
    try:
        return resolve_staff_session(
            session,
            token,
            now=ctx.clock.now(),
            limits=ctx.settings.limits,
            production=not ctx.settings.development,
        )
    except StaffSessionEndedError:
        raise StaffLoginRequiredError() from None


def logged_in(request: Request) -> StaffAuth:
    """Dependency: a staff session with its second factor done."""
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        auth = resolve_in(session, request)
    if not auth.complete:
        raise SecondFactorPendingError()
    return auth


LoggedIn = Annotated[StaffAuth, Depends(logged_in)]


def requires(permission: Permission) -> Callable[..., StaffAuth]:
    """A dependency that lets through only roles with ``permission`` (403 page otherwise)."""

    def guard(auth: LoggedIn) -> StaffAuth:
        require(auth.staff, permission)
        return auth

    guard.__name__ = f"requires_{permission.value}"
    return guard


def may(permission: Permission) -> object:
    """``auth: Annotated[StaffAuth, may(Permission.X)]`` in a handler's signature."""
    return Depends(requires(permission))


def requires_any(*permissions: Permission) -> Callable[..., StaffAuth]:
    """Let through roles that hold any one of ``permissions`` (read-only pages that both the
    role that acts and the auditor who checks may open)."""

    def guard(auth: LoggedIn) -> StaffAuth:
        if not any(can(auth.staff.role, p) for p in permissions):
            require(auth.staff, permissions[0])
        return auth

    guard.__name__ = "requires_any_" + "_".join(p.value for p in permissions)
    return guard
