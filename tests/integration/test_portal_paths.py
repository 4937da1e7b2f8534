"""Portal paths: an id that names no row is a 404 on both databases (never an integer overflow),
and no link or redirect built from the request path leads to another site."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from portal_support import csrf, log_in, portal_client

from esimcare.app import create_app
from esimcare.context import Context
from esimcare.portal.rendering import on_our_site, redirect

HUGE_IDS = (
    "999999999999999999999",  # beyond 64 bits: Python cannot even bind it on SQLite
    "9223372036854775808",  # 2**63: overflows PostgreSQL's bigint
    "2147483648",  # 2**31: beyond the integer columns
    "0",
    "-1",
    "abc",
)
ID_PAGES = (
    "/mts/esims/{id}",
    "/mts/esims/{id}/cancel",
    "/mts/esims/{id}/activation",
    "/mts/cancellations/{id}",
    "/mts/cancellations/{id}/verify",
)


def language_links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)\?lang=\w+" lang=', html)


def test_ids_that_name_no_row_are_not_found_on_either_database(make_context, db_url: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_context(database_url=db_url)
    client = portal_client(ctx, "en")
    log_in(client, "mts")
    for page in ID_PAGES:
        for raw in HUGE_IDS:
            answer = client.get(page.format(id=raw))
            assert answer.status_code == 404, (page, raw, answer.status_code)
            assert "Page not found" in answer.text or "Not found" in answer.text


def test_posting_to_an_id_beyond_any_row_is_not_found(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    token = csrf(client.get("/mts/esims").text)
    for path in (
        "/mts/esims/999999999999999999999/cancel",
        "/mts/cancellations/999999999999999999999/verify",
        "/mts/cancellations/999999999999999999999/undo",
    ):
        assert client.post(path, data={"csrf": token}).status_code == 404, path


@pytest.mark.parametrize(
    "path",
    ["//evil.example/", "//evil.example/mts/esims", "/%2F%2Fevil.example", "/%5Cevil.example"],
)
def test_language_links_of_the_not_found_page_stay_on_our_site(demo: Context, path: str) -> None:
    with TestClient(create_app(demo), base_url="https://testserver") as client:
        answer = client.get(f"https://testserver{path}")
    assert answer.status_code == 404
    links = language_links(answer.text)
    assert len(links) == 3, answer.text
    for link in links:
        assert link.startswith("/") and not link.startswith(("//", "/\\")), link
        assert "\\" not in link


def test_language_links_keep_the_page_they_were_shown_on(demo: Context) -> None:
    page = portal_client(demo, "en").get("/mts/login")
    assert language_links(page.text) == ["/mts/login"] * 3


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "///evil.example"])
def test_a_redirect_never_leaves_the_site(target: str) -> None:
    location = redirect(target).headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert on_our_site("/mts/esims?x=1") == "/mts/esims?x=1"
