"""Money goes where the customer meant: a refund number typed without its country code is read
in the operator's region (beeline: RU), and a number that cannot exist is a clear 422."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_support import csrf, esim_ids, hidden, log_in, portal_client, text_of
from sqlalchemy import select

from esimcare.app import create_app
from esimcare.cancellations.models import Cancellation
from esimcare.context import Context
from esimcare.db import transaction

LI = "+79030000001"  # beeline refunds to another number


def api_session(client: TestClient, login: str = LI) -> dict[str, str]:
    answer = client.post(
        "/api/v1/beeline/sessions", json={"login": login, "password": "demo-password-1"}
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def stored_refund_numbers(ctx: Context) -> list[str | None]:
    with transaction(ctx.sessions) as session:
        return list(session.scalars(select(Cancellation.refund_to)))


def test_the_api_reads_a_national_refund_number_in_the_operators_region(demo: Context) -> None:
    with TestClient(create_app(demo)) as client:
        auth = api_session(client)
        esim_id = client.get("/api/v1/beeline/esims", headers=auth).json()["items"][0]["id"]
        quote = client.post(
            f"/api/v1/beeline/esims/{esim_id}/cancellation-quote",
            json={"refund_to": "9161234567"},
            headers=auth,
        )
        assert quote.status_code == 200, quote.text
        assert quote.json()["refund_destination"] == "+7********67"
        created = client.post(
            f"/api/v1/beeline/esims/{esim_id}/cancellations",
            json={"reason": "not_needed", "refund_to": "8 916 123-45-67"},
            headers={**auth, "Idempotency-Key": "refund-1"},
        )
    assert created.status_code == 201, created.text
    assert stored_refund_numbers(demo) == ["+79161234567"]


def test_the_api_refuses_a_refund_number_that_cannot_exist_with_422(demo: Context) -> None:
    with TestClient(create_app(demo)) as client:
        auth = api_session(client)
        esim_id = client.get("/api/v1/beeline/esims", headers=auth).json()["items"][0]["id"]
        quote = client.post(
            f"/api/v1/beeline/esims/{esim_id}/cancellation-quote",
            json={"refund_to": "+9161234567"},
            headers=auth,
        )
        created = client.post(
            f"/api/v1/beeline/esims/{esim_id}/cancellations",
            json={"reason": "not_needed", "refund_to": "916123456"},
            headers={**auth, "Idempotency-Key": "refund-2"},
        )
    for refused in (quote, created):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "invalid-input"
        assert refused.json()["field"] == "refund_to"
    assert stored_refund_numbers(demo) == []


def test_the_portal_reads_a_national_refund_number_and_explains_a_wrong_one(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "beeline")
    esim = esim_ids(client, "beeline")[0]

    def submit(refund_to: str) -> str:
        form = client.get(f"/beeline/esims/{esim}/cancel")
        data = {"csrf": csrf(form.text), "form_token": hidden(form.text, "form_token")}
        answer = client.post(
            f"/beeline/esims/{esim}/cancel",
            data={**data, "reason": "not_needed", "refund_to": refund_to},
        )
        return answer.text

    assert "Enter a phone number like" in text_of(submit("+9161234567"))
    assert stored_refund_numbers(demo) == []
    submit("9161234567")
    assert stored_refund_numbers(demo) == ["+79161234567"]


def test_a_login_by_number_is_read_in_the_operators_region(demo: Context) -> None:
    with TestClient(create_app(demo)) as client:
        assert api_session(client, "9030000001")
        assert api_session(client, "8 (903) 000-00-01")
        refused = client.post(
            "/api/v1/beeline/sessions",
            json={"login": "+9030000001", "password": "demo-password-1"},
        )
    assert refused.status_code == 401
