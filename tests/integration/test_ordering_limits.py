"""Ordering is limited per account: eSIMs not cancelled (a cap) and orders an hour (a rate),
counted so that parallel orders cannot pass either limit, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_support import csrf, hidden, log_in, portal_client, text_of
from sqlalchemy import func, select

from esimcare.app import create_app
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.esims.models import Esim
from esimcare.esims.order_limits import OpenEsimsLimitError
from esimcare.esims.ordering import order_esim
from esimcare.esims.states import EsimStatus
from esimcare.kit.clock import FrozenClock, SystemClock
from esimcare.operators.policy import PolicyError, parse_policy
from tests.support import customer

ANNA = "+79160000001"  # two demo eSIMs at mts
PROBLEM = "application/problem+json"


def limit(ctx: Context, operator_id: str, **changes: Any) -> None:
    ctx.policies[operator_id] = replace(ctx.policies[operator_id], **changes)


def api_login(client: TestClient) -> dict[str, str]:
    answer = client.post(
        "/api/v1/mts/sessions", json={"login": ANNA, "password": "demo-password-1"}
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def api_order(client: TestClient, auth: dict[str, str], key: str) -> Any:
    return client.post(
        "/api/v1/mts/esims", json={"plan": "travel"}, headers={**auth, "Idempotency-Key": key}
    )


def open_esims(ctx: Context, customer_id: int) -> int:
    with transaction(ctx.sessions) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Esim)
            .where(Esim.customer_id == customer_id, Esim.status != EsimStatus.CANCELLED)
        )
    return int(count or 0)


def test_the_api_refuses_an_order_beyond_the_open_esims_cap_with_409(demo: Context) -> None:
    limit(demo, "mts", max_open_esims=3)
    with TestClient(create_app(demo)) as client:
        auth = api_login(client)
        assert api_order(client, auth, "first").status_code == 201
        refused = api_order(client, auth, "second")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["code"] == "open-esims-limit"
    assert problem["limit"] == 3
    assert "cancel one first" in problem["detail"]
    assert open_esims(demo, customer(demo, "mts", ANNA).id) == 3


def test_the_api_refuses_too_many_orders_an_hour_with_429_and_retry_after(demo: Context) -> None:
    limit(demo, "mts", orders_per_hour=2)
    clock = demo.clock
    assert isinstance(clock, FrozenClock)
    with TestClient(create_app(demo)) as client:
        auth = api_login(client)
        assert api_order(client, auth, "a").status_code == 201
        clock.advance(timedelta(minutes=20))
        assert api_order(client, auth, "b").status_code == 201
        refused = api_order(client, auth, "c")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == "order-rate-limited"
        # The first order leaves the hour's window 40 minutes from now.
        assert refused.headers["Retry-After"] == str(40 * 60)
        clock.advance(timedelta(minutes=40, seconds=1))
        auth = api_login(client)  # the idle session has ended meanwhile
        # The same key may be used again: a refused request stored no answer.
        assert api_order(client, auth, "c").status_code == 201


def test_a_cancelled_esim_no_longer_counts_towards_the_cap(demo: Context) -> None:
    limit(demo, "mts", max_open_esims=2)
    anna = customer(demo, "mts", ANNA)
    with pytest.raises(OpenEsimsLimitError):
        order_esim(demo, anna, "travel", None)
    with transaction(demo.sessions) as session:
        esim = session.scalars(select(Esim).where(Esim.customer_id == anna.id)).first()
        assert esim is not None
        esim.status = EsimStatus.CANCELLED
    assert order_esim(demo, anna, "travel", None).status is EsimStatus.ACTIVE


def test_parallel_orders_never_pass_the_cap(make_context, db_url: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_context(clock=SystemClock(), database_url=db_url)
    limit(ctx, "mts", max_open_esims=4, orders_per_hour=100)
    anna = customer(ctx, "mts", ANNA)

    def attempt(_: int) -> str:
        try:
            order_esim(ctx, anna, "travel", None)
        except DomainError as error:
            return error.code
        return "ordered"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("ordered") == 2, outcomes
    assert outcomes.count("open-esims-limit") == 6, outcomes
    assert open_esims(ctx, anna.id) == 4


def test_parallel_orders_never_pass_the_rate_limit(make_context, db_url: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_context(clock=SystemClock(), database_url=db_url)
    limit(ctx, "mts", max_open_esims=100, orders_per_hour=3)
    anna = customer(ctx, "mts", ANNA)

    def attempt(_: int) -> str:
        try:
            order_esim(ctx, anna, "travel", None)
        except DomainError as error:
            return error.code
        return "ordered"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("ordered") == 3, outcomes
    assert outcomes.count("order-rate-limited") == 5, outcomes


def test_the_portal_explains_the_cap_and_the_rate_limit(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")

    def order() -> Any:
        form = client.get("/mts/order")
        data = {"csrf": csrf(form.text), "form_token": hidden(form.text, "form_token")}
        return client.post("/mts/order", data={**data, "plan": "travel"}, follow_redirects=False)

    limit(demo, "mts", max_open_esims=2)
    capped = order()
    assert capped.status_code == 303  # Post/Redirect/Get: the form says why
    assert "as many eSIMs as your operator allows" in text_of(client.get("/mts/order").text)
    limit(demo, "mts", max_open_esims=10, orders_per_hour=1)
    assert order().status_code == 303
    rated = order()
    assert rated.status_code == 303
    assert rated.headers["Retry-After"] == "3600"
    assert "Please try again in 60 min" in text_of(client.get("/mts/order").text)


def test_the_limits_are_read_from_the_operators_file() -> None:
    raw = {
        "name": "X", "verification_methods": ["sms"], "refund_route": "card", "currency": "EUR",
        "debt_blocks_cancellation": False, "grace_period_hours": 0,
        "number_quarantine_days": 0, "smdp_final_status": "Unavailable", "hotline": "1",
        "hotline_hours": {"en": "24/7"}, "support_email": "a@b.invalid",
        "reasons": [{"code": "x", "en": "X"}],
    }  # fmt: skip
    defaults = parse_policy("x", raw)
    assert (defaults.max_open_esims, defaults.orders_per_hour) == (10, 10)
    tight = parse_policy("x", {**raw, "max_open_esims": 1, "orders_per_hour": 2})
    assert (tight.max_open_esims, tight.orders_per_hour) == (1, 2)
    with pytest.raises(PolicyError, match="at least 1"):
        parse_policy("x", {**raw, "orders_per_hour": 0})
