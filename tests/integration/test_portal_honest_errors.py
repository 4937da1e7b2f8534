"""Honest limits: why SMS cannot be sent and until when, what else works, a code that is used
up, and a session that ended mid-flow (back to the same page after logging in)."""

from __future__ import annotations

from datetime import timedelta

from portal_support import csrf, esim_ids, hidden, latest_code, log_in, portal_client, text_of

from esimcare.context import Context
from esimcare.kit.clock import FrozenClock
from esimcare.portal.next_page import safe_next

BORIS = "+79030000001"


def _request(client, op: str, esim: int, **fields: str):  # type: ignore[no-untyped-def]
    form = client.get(f"/{op}/esims/{esim}/cancel")
    data = {"csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"),
            "quote_id": hidden(form.text, "quote_id"), "reason": "not_needed",
            **fields}  # fmt: skip
    return client.post(f"/{op}/esims/{esim}/cancel", data=data)


def test_the_sms_cap_says_until_when_and_offers_the_password_and_the_hotline(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "beeline")
    first = esim_ids(client, "beeline")[0]
    verify = _request(client, "beeline", first, refund_to="+79161234567")
    assert isinstance(demo.clock, FrozenClock)
    for _ in range(4):
        demo.clock.advance(timedelta(seconds=61))
        client.post(f"{verify.url.path}/resend", data={"csrf": csrf(verify.text)})
    demo.clock.advance(timedelta(seconds=61))
    capped = client.post(f"{verify.url.path}/resend", data={"csrf": csrf(verify.text)})
    page = text_of(capped.text)
    assert "5 codes went to your number in the last hour" in page
    assert "You can ask for a new code from" in page
    assert "16:00" in page.split("You can ask for a new code from")[1][:40]  # 16:00 Moscow
    assert "Confirm with your password instead." in page
    assert 'href="tel:+78000000002"' in capped.text
    assert 'id="page-message" role="alert" tabindex="-1" autofocus' in capped.text
    done = client.post(capped.url.path, data={
        "csrf": csrf(capped.text), "method": "password", "secret": "demo-password-1"})  # fmt: skip
    assert 'data-status="scheduled"' in done.text


def test_an_mts_request_under_the_sms_cap_says_why_and_names_the_hotline(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    verify = _request(client, "mts", esim)
    assert isinstance(demo.clock, FrozenClock)
    for _ in range(4):
        demo.clock.advance(timedelta(seconds=61))
        client.post(f"{verify.url.path}/resend", data={"csrf": csrf(verify.text)})
    demo.clock.advance(timedelta(seconds=61))
    capped = client.post(f"{verify.url.path}/resend", data={"csrf": csrf(verify.text)})
    page = text_of(capped.text)
    assert "You can ask for a new code from" in page
    assert "password" not in page.lower().split("you can ask")[1][:200]  # mts: SMS only
    assert 'href="tel:+78000000001"' in capped.text


def test_after_the_last_wrong_code_the_page_says_it_is_used_up_and_offers_a_new_one(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    verify = _request(client, "mts", esim_ids(client, "mts")[0])
    right = latest_code(demo, "+79160000001")
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        client.post(verify.url.path, data={"csrf": csrf(verify.text), "method": "sms",
                                           "secret": wrong})  # fmt: skip
    last = client.post(verify.url.path, data={"csrf": csrf(verify.text), "method": "sms",
                                              "secret": wrong})  # fmt: skip
    page = text_of(last.text)
    assert "that was its last attempt: this code is used up" in page
    assert "Attempts left: 0" not in page
    assert last.text.count("/verify/resend") == 2  # in the message and below the form
    after = client.post(verify.url.path, data={"csrf": csrf(verify.text), "method": "sms",
                                               "secret": right})  # fmt: skip
    assert "This code is used up after too many wrong attempts" in text_of(after.text)
    assert "expired or was already used" not in text_of(after.text)


def test_an_ended_session_says_so_and_returns_to_the_page_after_logging_in(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    client.cookies.clear()
    client.cookies.set("__Host-esimcare", "a-session-that-ended")
    page = client.get(f"/mts/esims/{esim}/cancel")
    assert page.url.path == "/mts/login"
    assert "Your session ended. Log in again" in text_of(page.text)
    assert hidden(page.text, "next") == f"/mts/esims/{esim}/cancel"
    back = client.post("/mts/login", data={"csrf": csrf(page.text), "login": "+79160000001",
                                           "password": "demo-password-1",
                                           "next": f"/mts/esims/{esim}/cancel"})  # fmt: skip
    assert back.url.path == f"/mts/esims/{esim}/cancel"


def test_next_accepts_only_a_relative_path_on_the_operators_pages() -> None:
    assert safe_next("mts", "/mts/esims/3/cancel") == "/mts/esims/3/cancel"
    for bad in ("//evil.example/mts/", "https://evil.example/mts/x", "/\\evil.example",
                "/beeline/esims", "mts/esims", "/mts/esims\r\nX: y", "", None,
                "/mts/login"):  # fmt: skip
        assert safe_next("mts", bad) is None, bad
