"""GET /api/v1/{operator}/esims, the hottest read: the same answer as the ORM rendering, one
statement (authentication and the list in one snapshot), nothing written unless the idle
refresh is due."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from api_support import LOGINS, assert_problem, log_in
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from esimcare.api.render import esim_out
from esimcare.context import Context
from esimcare.customers.models import AuthSession, Customer
from esimcare.db import transaction
from esimcare.esims.service import list_esims
from esimcare.kit.clock import FrozenClock


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    """Every SQL statement sent to the database meanwhile, by any thread."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ctx.engine, "before_cursor_execute", record)


def orm_rendering(ctx: Context, operator: str, language: str) -> list[dict[str, Any]]:
    """What the endpoint answered before it read with Core: esim_out over list_esims."""
    with transaction(ctx.readers) as session:
        customer = session.scalars(
            select(Customer).where(
                Customer.operator_id == operator, Customer.phone == LOGINS[operator]
            )
        ).one()
        views = list_esims(session, operator, customer.id)
        return [esim_out(view, language).model_dump(mode="json") for view in views]


def test_the_list_is_what_the_orm_rendering_gives_in_every_language(
    client: TestClient, demo: Context
) -> None:
    for operator in LOGINS:
        auth = log_in(client, operator)
        for language in ("ru", "en", "zh"):
            response = client.get(
                f"/api/v1/{operator}/esims", headers={**auth, "Accept-Language": language}
            )
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.headers["cache-control"] == "no-store"
            items = response.json()["items"]
            assert items, f"{operator} has eSIMs in the demo"
            assert items == orm_rendering(demo, operator, language)


def test_a_read_is_one_select_and_writes_nothing(
    client: TestClient, demo: Context, auth: dict[str, str]
) -> None:
    with statements(demo) as sent:
        assert client.get("/api/v1/mts/esims", headers=auth).status_code == 200
    assert [s for s in sent if s != "BEGIN"] == ["SELECT"]


def test_the_idle_refresh_is_one_update_when_due_and_keeps_the_session_alive(
    client: TestClient, demo: Context, auth: dict[str, str]
) -> None:
    assert isinstance(demo.clock, FrozenClock)
    for _ in range(3):  # 3 x 20 minutes: longer than the 30-minute idle limit in all
        demo.clock.advance(timedelta(minutes=20))
        with statements(demo) as sent:
            assert client.get("/api/v1/mts/esims", headers=auth).status_code == 200
        assert sent.count("UPDATE") == 1
    with transaction(demo.readers) as session:
        last_seen = session.scalars(select(AuthSession.last_seen_at)).all()
    assert demo.clock.now() in last_seen


def test_a_session_idle_too_long_revoked_or_of_another_operator_is_refused(
    client: TestClient, demo: Context, auth: dict[str, str]
) -> None:
    assert_problem(client.get("/api/v1/beeline/esims", headers=auth), 401, "unauthenticated")
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(timedelta(minutes=31))
    assert_problem(client.get("/api/v1/mts/esims", headers=auth), 401, "unauthenticated")
    fresh = log_in(client, "mts")
    assert client.delete("/api/v1/mts/sessions/current", headers=fresh).status_code == 204
    assert_problem(client.get("/api/v1/mts/esims", headers=fresh), 401, "unauthenticated")


def test_an_unknown_operator_is_404_before_a_missing_token_is_401(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nobody/esims"), 404, "not-found")
    assert_problem(client.get("/api/v1/mts/esims"), 401, "unauthenticated")


def test_the_openapi_document_still_describes_the_list_and_its_parameters(
    client: TestClient,
) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    operation = paths["/api/v1/{operator}/esims"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EsimList"}
    assert {"401", "404", "422"} <= set(operation["responses"])
    # The handler reads its parameters itself; they are documented as FastAPI documents the
    # same ones of the endpoint next to it.
    sibling = paths["/api/v1/{operator}/esims/{esim_id}"]["get"]["parameters"]
    assert operation["parameters"] == [p for p in sibling if p["name"] != "esim_id"]
