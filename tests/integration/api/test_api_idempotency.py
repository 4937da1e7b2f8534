"""Idempotency-Key on POST .../cancellations: replay, mismatch, missing and in-flight keys."""

from __future__ import annotations

import json

from api_support import (
    LOGINS,
    assert_problem,
    installed_esim,
    log_in,
    request_cancellation,
    row_counts,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.api.idempotent import IdempotentCall
from esimcare.api.schemas import CancellationRequest
from esimcare.context import Context
from esimcare.customers.models import Customer


def test_the_same_key_and_body_replay_the_first_answer_and_create_nothing_more(
    client: TestClient, demo: Context, auth: dict[str, str], esim_id: int
) -> None:
    first = request_cancellation(client, "mts", auth, esim_id, comment="moving")
    counts = row_counts(demo)
    again = request_cancellation(client, "mts", auth, esim_id, comment="moving")
    assert (
        (again.status_code, again.json())
        == (first.status_code, first.json())
        == (201, first.json())
    )
    assert row_counts(demo) == counts
    assert counts["cancellations"] == 1
    assert counts["one_time_codes"] == 1


def test_the_same_body_with_other_spacing_and_key_order_is_the_same_request(
    client: TestClient, auth: dict[str, str], esim_id: int
) -> None:
    headers = {**auth, "Idempotency-Key": "k", "Content-Type": "application/json"}
    url = f"/api/v1/mts/esims/{esim_id}/cancellations"
    first = client.post(
        url, content=json.dumps({"reason": "other", "comment": "x"}), headers=headers
    )
    again = client.post(url, content='{ "comment" : "x",\n "reason":"other" }', headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_refused(
    client: TestClient, demo: Context, auth: dict[str, str], esim_id: int
) -> None:
    request_cancellation(client, "mts", auth, esim_id, reason="not_needed")
    counts = row_counts(demo)
    other = request_cancellation(client, "mts", auth, esim_id, reason="other")
    assert_problem(other, 422, "idempotency-key-reused")
    assert row_counts(demo) == counts


def test_a_missing_key_is_a_400_and_creates_nothing(
    client: TestClient, demo: Context, auth: dict[str, str], esim_id: int
) -> None:
    counts = row_counts(demo)
    response = request_cancellation(client, "mts", auth, esim_id, key=None)
    assert_problem(response, 400, "idempotency-key-missing")
    assert row_counts(demo) == counts


def test_a_key_still_in_flight_is_a_409(
    client: TestClient, demo: Context, auth: dict[str, str], esim_id: int
) -> None:
    path = f"/api/v1/mts/esims/{esim_id}/cancellations"
    body = CancellationRequest(reason="not_needed")
    call = IdempotentCall.of(demo, "busy", _customer(demo, "mts"), path=path, body=body)
    assert call.start() is None  # another request now owns the key
    response = request_cancellation(client, "mts", auth, esim_id, key="busy")
    assert_problem(response, 409, "idempotency-key-in-flight")
    assert row_counts(demo)["cancellations"] == 0


def test_a_second_open_cancellation_of_the_same_esim_is_a_409(
    client: TestClient, demo: Context, auth: dict[str, str], esim_id: int
) -> None:
    assert request_cancellation(client, "mts", auth, esim_id, key="a").status_code == 201
    counts = row_counts(demo)
    second = request_cancellation(client, "mts", auth, esim_id, key="b")
    assert_problem(second, 409, "cancellation-in-progress")
    assert row_counts(demo) == counts


def test_a_key_released_by_a_failure_can_be_used_again(
    client: TestClient, auth: dict[str, str], esim_id: int
) -> None:
    refused = request_cancellation(client, "mts", auth, esim_id, reason="no-such-reason")
    assert_problem(refused, 422, "invalid-input")
    accepted = request_cancellation(client, "mts", auth, esim_id, reason="not_needed")
    assert accepted.status_code == 201, accepted.text


def test_keys_are_scoped_to_the_customer(
    client: TestClient, auth: dict[str, str], esim_id: int
) -> None:
    assert request_cancellation(client, "mts", auth, esim_id, key="shared").status_code == 201
    beeline = log_in(client, "beeline")
    other = installed_esim(client, "beeline", beeline)["id"]
    response = request_cancellation(
        client, "beeline", beeline, other, key="shared", refund_to="+79031234567"
    )
    assert response.status_code == 201, response.text


def _customer(ctx: Context, operator: str) -> Customer:
    with ctx.sessions() as session:
        found = session.scalar(
            select(Customer).where(
                Customer.operator_id == operator, Customer.phone == LOGINS[operator]
            )
        )
    assert found is not None
    return found
