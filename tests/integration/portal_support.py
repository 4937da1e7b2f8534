"""Helpers for the portal tests: a browser-like client, form tokens, logging in."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from httpx import Response

from esimcare.app import create_app
from esimcare.context import Context

PASSWORD = "demo-password-1"
LOGINS = {"mts": "+79160000001", "beeline": "+79030000001", "megafon": "+79250000001"}


def portal_client(ctx: Context, language: str | None = None) -> TestClient:
    """HTTPS, so the Secure ``__Host-`` cookies travel as they do in a browser."""
    headers = {"Accept-Language": language} if language else {}
    return TestClient(create_app(ctx), base_url="https://testserver", headers=headers)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name!r} on the page"
    return found.group(1)


def csrf(html: str) -> str:
    return hidden(html, "csrf")


def log_in(client: TestClient, op: str, login: str | None = None) -> Response:
    page = client.get(f"/{op}/login")
    return client.post(
        f"/{op}/login",
        data={"csrf": csrf(page.text), "login": login or LOGINS[op], "password": PASSWORD},
        follow_redirects=False,
    )


def esim_ids(client: TestClient, op: str) -> list[int]:
    return [
        int(i) for i in re.findall(rf'href="/{op}/esims/(\d+)"', client.get(f"/{op}/esims").text)
    ]


def text_of(html: str) -> str:
    """The visible words of a page, for assertions that should not depend on markup."""
    words = re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1])
    readable = unescape(words).replace("\u00a0", " ").replace("\u2011", "-")
    return re.sub(r"\s+", " ", readable)


def latest_code(ctx: Context, phone: str) -> str:
    body = ctx.sms.messages(to=phone)[0].body
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)
