"""A quote holds: confirmed within its validity, the cancellation executes exactly its amounts;
after it, the customer is asked to look at a fresh one (portal and API)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from portal_support import csrf, esim_ids, hidden, latest_code, log_in, portal_client, text_of
from sqlalchemy import select

from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.context import Context
from esimcare.kit.clock import FrozenClock
from esimcare.portal.views import money_from_json
from esimcare.runtime import build_worker

ANNA = "+79160000001"
TEST_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _clock(ctx: Context) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


def test_a_quote_confirmed_fourteen_minutes_later_executes_exactly_as_quoted(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    form = client.get(f"/mts/esims/{esim}/cancel")
    quoted_bill = re.search(r"Final bill</dt><dd><strong>([^<]+)<", form.text)
    quoted_refund = re.search(r"Refund</dt><dd><strong>([^<]+)<", form.text)
    assert quoted_bill and quoted_refund
    _clock(demo).advance(timedelta(minutes=13))  # the fee would keep running
    verify = client.post(f"/mts/esims/{esim}/cancel", data={
        "csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"),
        "quote_id": hidden(form.text, "quote_id"), "reason": "not_needed"})  # fmt: skip
    assert quoted_bill.group(1) in verify.text and quoted_refund.group(1) in verify.text
    _clock(demo).advance(timedelta(minutes=1))
    status = client.post(verify.url.path, data={
        "csrf": csrf(verify.text), "method": "sms", "secret": latest_code(demo, ANNA)})  # fmt: skip
    build_worker(demo).run_until_idle()
    with demo.sessions() as session:
        bill = session.scalar(select(Bill))
        refund = session.scalar(select(Refund))
        cancellation = session.scalar(select(Cancellation))
        assert bill is not None and refund is not None and cancellation is not None
        assert bill.total_minor == money_from_json(cancellation.quote["final_bill"]).minor
        assert refund.amount_minor == money_from_json(cancellation.quote["refund"]).minor
        assert cancellation.effective_at.replace(tzinfo=None) == TEST_START.replace(tzinfo=None)
    done = text_of(client.get(status.url.path).text)
    assert f"{quoted_bill.group(1)} as quoted".replace("\xa0", " ") in done


def test_an_expired_quote_asks_for_a_fresh_one_in_the_portal(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    form = client.get(f"/mts/esims/{esim}/cancel")
    _clock(demo).advance(timedelta(minutes=16))
    again = client.post(f"/mts/esims/{esim}/cancel", data={
        "csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"),
        "quote_id": hidden(form.text, "quote_id"), "reason": "leaving_country"})  # fmt: skip
    assert again.url.path == f"/mts/esims/{esim}/cancel"
    page = text_of(again.text)
    assert "The quote you saw has run out (a quote holds for 15 minutes)" in page
    assert 'value="leaving_country" selected' in again.text  # what was chosen is kept
    assert 'tabindex="-1" autofocus' in again.text
    assert hidden(again.text, "quote_id") != hidden(form.text, "quote_id")
    assert demo.sms.messages(to=ANNA) == []  # nothing was requested


def test_confirming_after_the_quote_ran_out_leads_back_to_a_fresh_quote(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "beeline")
    esim = esim_ids(client, "beeline")[0]
    form = client.get(f"/beeline/esims/{esim}/cancel")
    verify = client.post(f"/beeline/esims/{esim}/cancel", data={
        "csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"),
        "quote_id": hidden(form.text, "quote_id"), "reason": "not_needed",
        "refund_to": "+79161234567"})  # fmt: skip
    _clock(demo).advance(timedelta(minutes=15))
    answer = client.post(verify.url.path, data={
        "csrf": csrf(verify.text), "method": "password", "secret": "demo-password-1"})  # fmt: skip
    assert answer.url.path == f"/beeline/esims/{esim}/cancel"
    assert "The quote you saw has run out" in text_of(answer.text)


def _api_login(client, op: str, login: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = client.post(f"/api/v1/{op}/sessions", json={"login": login,
                                                        "password": "demo-password-1"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_api_answers_quote_expired_with_the_fresh_quote_link(demo: Context) -> None:
    client = portal_client(demo)
    auth = _api_login(client, "beeline", "+79030000001")
    esim = client.get("/api/v1/beeline/esims", headers=auth).json()["items"][0]["id"]
    quote = client.post(f"/api/v1/beeline/esims/{esim}/cancellation-quote", headers=auth).json()
    assert quote["id"].startswith("q1.") and quote["valid_until"] == "2026-11-23T12:15:00Z"
    _clock(demo).advance(timedelta(minutes=15))
    body = {"reason": "not_needed", "refund_to": "+79161234567", "quote_id": quote["id"]}
    answer = client.post(f"/api/v1/beeline/esims/{esim}/cancellations", json=body,
                         headers={**auth, "Idempotency-Key": "k-1"})  # fmt: skip
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "quote-expired"
    assert problem["fresh_quote"] == f"/api/v1/beeline/esims/{esim}/cancellation-quote"
    forged = {**body, "quote_id": quote["id"][:-2] + "xx"}
    refused = client.post(f"/api/v1/beeline/esims/{esim}/cancellations", json=forged,
                          headers={**auth, "Idempotency-Key": "k-2"})  # fmt: skip
    assert refused.status_code == 422
