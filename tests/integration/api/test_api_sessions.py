"""Logging in and out through the API, and the development outbox's visibility."""

from __future__ import annotations

from api_support import api_client, assert_problem, log_in
from fastapi.testclient import TestClient

from esimcare.config import Mode
from esimcare.context import Context


def test_logging_in_by_phone_or_email_gives_a_token_that_expires_in_utc(
    client: TestClient,
) -> None:
    for login in ("+79160000001", "anna@example.com"):
        response = client.post(
            "/api/v1/mts/sessions", json={"login": login, "password": "demo-password-1"}
        )
        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert len(body["token"]) >= 22
        assert body["expires_at"] == "2026-11-24T00:00:00Z"


def test_an_unknown_login_and_a_wrong_password_get_the_same_answer(client: TestClient) -> None:
    unknown = client.post(
        "/api/v1/mts/sessions", json={"login": "+79169999999", "password": "demo-password-1"}
    )
    wrong = client.post(
        "/api/v1/mts/sessions", json={"login": "+79160000001", "password": "not-the-password"}
    )
    assert_problem(unknown, 401, "unauthenticated")
    assert unknown.json() == wrong.json()


def test_a_login_is_bound_to_its_operator(client: TestClient) -> None:
    response = client.post(
        "/api/v1/beeline/sessions", json={"login": "+79160000001", "password": "demo-password-1"}
    )
    assert_problem(response, 401, "unauthenticated")


def test_logging_out_makes_the_token_useless(client: TestClient) -> None:
    auth = log_in(client, "mts")
    assert client.delete("/api/v1/mts/sessions/current", headers=auth).status_code == 204
    assert_problem(client.get("/api/v1/mts/esims", headers=auth), 401, "unauthenticated")
    again = client.delete("/api/v1/mts/sessions/current", headers=auth)
    assert_problem(again, 401, "unauthenticated")


def test_a_made_up_token_is_refused(client: TestClient) -> None:
    for header in ("Bearer made-up", "Basic bWU6eW91", "Bearer ", "x" * 2000):
        response = client.get("/api/v1/mts/esims", headers={"Authorization": header})
        assert_problem(response, 401, "unauthenticated")


def test_the_development_outbox_shows_messages_to_one_number_newest_first(
    client: TestClient, demo: Context
) -> None:
    demo.sms.send(to="+79160000001", body="first", message_key="a")
    demo.sms.send(to="+79160000001", body="second", message_key="b")
    demo.sms.send(to="+79030000001", body="other", message_key="c")
    items = client.get("/api/v1/dev/outbox", params={"to": "+79160000001"}).json()["items"]
    assert [(i["to"], i["channel"], i["body"]) for i in items] == [
        ("+79160000001", "sms", "second"),
        ("+79160000001", "sms", "first"),
    ]
    assert items[0]["sent_at"] == "2026-11-23T12:00:00Z"
    unencoded = client.get("/api/v1/dev/outbox?to=+79160000001").json()["items"]
    assert unencoded == items


def test_the_development_outbox_does_not_exist_in_production(demo: Context) -> None:
    # ESIMCARE_API_DOCS publishes the OpenAPI document in production (off by default).
    demo.settings = demo.settings.with_changes(mode=Mode.PRODUCTION, api_docs=True)
    with api_client(demo) as client:
        assert_problem(client.get("/api/v1/dev/outbox"), 404, "not-found")
        paths = client.get("/api/openapi.json").json()["paths"]
        assert "/api/v1/dev/outbox" not in paths
