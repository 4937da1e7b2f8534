"""Post/Redirect/Get with a message: a form's answer, good or bad, is a 303 to a GET page,
and what that page must say travels in a short-lived signed cookie (a "flash").

So Back and Reload never offer to send a form again. The cookie is signed with the secret key
(its texts are our own message ids, never typed by anyone), read by the page it names, and
cleared by the next page rendered.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from starlette.responses import Response

from esimcare.kit.tokens import keyed_hash, same
from esimcare.portal.deps import clear_cookie, get_ctx, set_cookie

FLASH_COOKIE = "__Host-esimcare-flash"
FLASH_MAX_AGE_S = 120


@dataclass(frozen=True)
class Flash:
    """What the next page says: ``message`` is an English msgid, ``params`` its values
    (``until``: an ISO time, shown in the operator's zone), ``form`` the fields to refill."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    field_errors: dict[str, str] = field(default_factory=dict)
    kind: str = "error"  # or "notice"
    # Offer these next: "resend" (a new code), "other_methods", "hotline".
    offers: tuple[str, ...] = ()

    def with_params(self, params: dict[str, Any]) -> Flash:
        return Flash(self.message, params, self.form, self.field_errors, self.kind, self.offers)

    def shown(self, translator: Any) -> dict[str, Any]:
        """The params as the page shows them: times in the reader's language and zone."""
        values = dict(self.params)
        if isinstance(values.get("until"), str):
            moment = datetime.fromisoformat(values["until"].replace("Z", "+00:00"))
            values["until"] = translator.datetime(moment)
        return values


def _sign(key: bytes, body: str) -> str:
    return keyed_hash(key, f"flash:{body}")[:43]


def flash_redirect(request: Request, url: str, flash: Flash) -> Response:
    from esimcare.portal.rendering import on_our_site, redirect  # rendering imports us

    response = redirect(url)
    target = on_our_site(url).split("?", 1)[0]
    payload = {"p": target, "m": flash.message, "a": flash.params, "f": flash.form,
               "e": flash.field_errors, "k": flash.kind, "o": list(flash.offers)}  # fmt: skip
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    signed = f"{body}.{_sign(get_ctx(request).settings.secret_key, body)}"
    set_cookie(response, FLASH_COOKIE, signed, max_age=FLASH_MAX_AGE_S)
    return response


def take_flash(request: Request) -> Flash | None:
    """The flash meant for this page, if any (the render that follows clears the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    body, _, mac = raw.partition(".")
    if not body or not same(_sign(get_ctx(request).settings.secret_key, body), mac):
        return None
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if payload.get("p") != request.url.path:
        return None
    return Flash(message=str(payload["m"]), params=dict(payload["a"]), form=dict(payload["f"]),
                 field_errors=dict(payload["e"]), kind=str(payload["k"]),
                 offers=tuple(payload["o"]))  # fmt: skip


def clear_flash(request: Request, response: Response) -> None:
    if request.method == "GET" and FLASH_COOKIE in request.cookies:
        clear_cookie(response, FLASH_COOKIE)
