"""Post/Redirect/Get everywhere in the portal: no form's answer is a page rendered in reply to
a POST, so Back and Reload never show "Confirm form resubmission".

The routes are read from the app itself, so a POST added later that renders a page fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from portal_support import csrf, esim_ids, hidden, log_in, portal_client
from starlette.routing import BaseRoute

from esimcare.app import create_app
from esimcare.context import Context

# Called by the page's script (WebAuthn), never submitted as a form: they answer JSON, and the
# script moves to the next page with a GET.
SCRIPT_ENDPOINT = re.compile(r"/passkeys?(/options)?$|/passkey(/options)?$")


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every route, also inside included routers (newer FastAPI keeps them nested; the portal
    includes its routers without a prefix, so a route's own path is the one served)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def portal_post_paths(ctx: Context) -> list[str]:
    return sorted(
        route.path
        for route in api_routes(create_app(ctx).routes)
        if "POST" in (route.methods or set())
        and route.endpoint.__module__.startswith("esimcare.portal.")
    )


def an_open_cancellation(client: TestClient) -> int:
    esim = esim_ids(client, "mts")[0]
    form = client.get(f"/mts/esims/{esim}/cancel").text
    data = {"csrf": csrf(form), "form_token": hidden(form, "form_token"),
            "quote_id": hidden(form, "quote_id"), "reason": "not_needed"}  # fmt: skip
    answer = client.post(f"/mts/esims/{esim}/cancel", data=data)
    found = re.search(r"/cancellations/(\d+)/verify$", answer.url.path)
    assert found, answer.url
    return int(found.group(1))


def filled(path: str, esim: int, cancellation: int) -> str:
    values = {"op": "mts", "esim_id": esim, "cancellation_id": cancellation,
              "passkey_id": 1, "token": "not-a-real-token"}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda name: str(values[name.group(1)]), path)


def made_up(path: str) -> bool:
    """Paths naming a passkey or an undo link, which filled() makes up: not found, as on a GET."""
    return "{passkey_id}" in path or "{token}" in path


def post_as_a_form(client: TestClient, path: str, **fields: str) -> Response:
    page = client.get("/mts/esims").text
    return client.post(path, data={"csrf": csrf(page), **fields}, follow_redirects=False)


def test_the_portal_has_the_posts_this_test_knows_how_to_fill(demo: Context) -> None:
    paths = portal_post_paths(demo)
    assert {"/identify", "/{op}/order", "/{op}/help", "/{op}/esims/{esim_id}/cancel"} <= set(paths)
    for path in paths:  # a new path parameter needs a value in filled()
        assert set(re.findall(r"\{(\w+)\}", path)) <= {
            "op", "esim_id", "cancellation_id", "passkey_id", "token"}  # fmt: skip


def test_every_portal_post_answers_with_a_redirect_not_a_page(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim, cancellation = esim_ids(client, "mts")[0], an_open_cancellation(client)
    rendered = {}
    for path in portal_post_paths(demo):
        if path.endswith("/logout"):
            continue  # checked last: it ends the session the others need
        answer = post_as_a_form(client, filled(path, esim, cancellation))
        kind = answer.headers.get("content-type", "")
        if SCRIPT_ENDPOINT.search(path):
            # JSON for the script, or a refusal of this malformed call; never a page.
            assert answer.status_code >= 400 or "text/html" not in kind, path
        elif answer.status_code != 303 and not (answer.status_code == 404 and made_up(path)):
            rendered[path] = (answer.status_code, kind)
    assert rendered == {}, "these POSTs render a page instead of redirecting"
    assert post_as_a_form(client, "/mts/logout").status_code == 303


@pytest.mark.parametrize(
    ("path", "fields", "says"),
    [
        ("/identify", {"number": "12345"}, "does not look like a phone number"),
        ("/mts/order", {"plan": ""}, "give the EID as 32 digits"),
        ("/mts/help", {"message": " "}, "Write your question"),
    ],
)
def test_a_refused_form_redirects_and_the_page_says_why_once(
    demo: Context, path: str, fields: dict[str, str], says: str
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    answer = post_as_a_form(client, path, **fields)
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and says in page.text
    assert says not in client.get(answer.headers["location"]).text  # a reload forgets it


def test_help_is_sent_once_and_the_answer_is_a_get_page(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    answer = post_as_a_form(client, "/mts/help", message="Will I keep my number?")
    assert (answer.status_code, answer.headers["location"]) == (303, "/mts/help")
    page = client.get("/mts/help")
    assert re.search(r'data-support="\d+"', page.text)
    assert "data-support" not in client.get("/mts/help").text  # a reload shows the form


def test_the_order_redirects_to_its_activation_page(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    form = client.get("/mts/order").text
    answer = post_as_a_form(client, "/mts/order", plan="travel",
                            form_token=hidden(form, "form_token"))  # fmt: skip
    assert answer.status_code == 303
    assert re.fullmatch(r"/mts/esims/\d+/activation", answer.headers["location"])
