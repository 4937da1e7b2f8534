"""One-time codes through the API: wrong, exhausted, expired and resent codes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_support import (
    LOGINS,
    api_client,
    assert_problem,
    installed_esim,
    latest_code,
    log_in,
    request_cancellation,
    verify,
)
from fastapi.testclient import TestClient

from esimcare.config import Limits
from esimcare.context import Context
from esimcare.kit.clock import FrozenClock


@pytest.fixture
def cancellation(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    esim = installed_esim(client, "mts", auth)
    response = request_cancellation(client, "mts", auth, esim["id"])
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _status(client: TestClient, auth: dict[str, str], cancellation_id: int) -> str:
    response = client.get(f"/api/v1/mts/cancellations/{cancellation_id}", headers=auth)
    status: str = response.json()["status"]
    return status


def test_each_wrong_code_says_how_many_attempts_are_left(
    client: TestClient, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    wrong = _wrong(latest_code(client, LOGINS["mts"]))
    left = []
    for _ in range(5):
        response = verify(client, "mts", auth, cancellation["id"], method="sms", code=wrong)
        left.append(assert_problem(response, 422, "wrong-code")["attempts_left"])
    assert left == [4, 3, 2, 1, 0]


def test_after_five_wrong_codes_the_right_one_is_refused(
    client: TestClient, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    code = latest_code(client, LOGINS["mts"])
    for _ in range(5):
        verify(client, "mts", auth, cancellation["id"], method="sms", code=_wrong(code))
    response = verify(client, "mts", auth, cancellation["id"], method="sms", code=code)
    assert_problem(response, 422, "code-expired")
    assert _status(client, auth, cancellation["id"]) == "awaiting_verification"


def test_an_expired_code_is_refused(
    client: TestClient, demo: Context, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    code = latest_code(client, LOGINS["mts"])
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(timedelta(minutes=6))
    response = verify(client, "mts", auth, cancellation["id"], method="sms", code=code)
    assert_problem(response, 422, "code-expired")
    assert _status(client, auth, cancellation["id"]) == "awaiting_verification"


def test_a_used_code_cannot_verify_again(
    client: TestClient, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    code = latest_code(client, LOGINS["mts"])
    assert verify(client, "mts", auth, cancellation["id"], method="sms", code=code).is_success
    again = verify(client, "mts", auth, cancellation["id"], method="sms", code=code)
    assert_problem(again, 409, "invalid-transition")


def test_a_new_code_too_soon_is_a_429_with_retry_after(
    client: TestClient, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    url = f"/api/v1/mts/cancellations/{cancellation['id']}/verification-code"
    response = client.post(url, headers=auth)
    body = assert_problem(response, 429, "resend-too-soon")
    assert 0 < int(response.headers["retry-after"]) <= 61
    assert body["retry_after"] == int(response.headers["retry-after"])


def test_a_resent_code_verifies_the_cancellation(
    client: TestClient, demo: Context, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(timedelta(seconds=61))
    url = f"/api/v1/mts/cancellations/{cancellation['id']}/verification-code"
    response = client.post(url, headers=auth)
    assert response.status_code == 202, response.text
    assert response.json()["sms_delivery"] == "sent"
    code = latest_code(client, LOGINS["mts"])
    verified = verify(client, "mts", auth, cancellation["id"], method="sms", code=code)
    assert verified.json() == {"status": "processing"}


def test_too_many_failures_lock_verification_with_retry_after(
    make_context: Callable[..., Context],
) -> None:
    ctx = make_context(limits=Limits(failures_per_hour=3))
    with api_client(ctx) as client:
        auth = log_in(client, "mts")
        esim = installed_esim(client, "mts", auth)
        cancellation_id = request_cancellation(client, "mts", auth, esim["id"]).json()["id"]
        code = latest_code(client, LOGINS["mts"])
        for _ in range(2):
            verify(client, "mts", auth, cancellation_id, method="sms", code=_wrong(code))
        third = verify(client, "mts", auth, cancellation_id, method="sms", code=_wrong(code))
        assert_problem(third, 429, "verification-locked")
        assert int(third.headers["retry-after"]) > 0
        locked = verify(client, "mts", auth, cancellation_id, method="sms", code=code)
        assert_problem(locked, 429, "verification-locked")


def test_a_method_the_operator_does_not_offer_is_refused(
    client: TestClient, auth: dict[str, str], cancellation: dict[str, Any]
) -> None:
    response = verify(
        client, "mts", auth, cancellation["id"], method="password", password="demo-password-1"
    )
    assert_problem(response, 422, "verification-method-not-allowed")
