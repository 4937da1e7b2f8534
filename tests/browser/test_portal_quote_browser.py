"""The quote that holds, honest limits and status truth, in real Chromium at phone size.

The server runs on a frozen clock shared with this thread, so a test can let "a minute" or
"sixteen minutes" pass without waiting, and the worker sees the same time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import LiveServer, free_port, screenshot, serving

from esimcare.kit.clock import FrozenClock

pytestmark = pytest.mark.browser

PASSWORD = "demo-password-1"
ANNA, BORIS, VERA = "+79160000001", "+79030000001", "+79250000001"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def frozen_server(make_context, clock: FrozenClock) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    port = free_port()
    ctx = make_context(clock=clock, public_url=f"http://127.0.0.1:{port}")
    with serving(ctx, port) as server:
        yield server


def log_in(page, server: LiveServer, op: str, login: str, language: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/{op}/login?lang={language}")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(re.compile(rf"/{op}/esims$"))


def open_cancel_form(page, op: str) -> None:  # type: ignore[no-untyped-def]
    page.click("a.card-link >> nth=0")
    page.wait_for_url(re.compile(rf"/{op}/esims/\d+$"))
    page.click("a[href$='/cancel']")
    page.wait_for_url(re.compile(rf"/{op}/esims/\d+/cancel$"))


def submit_cancel(page) -> None:  # type: ignore[no-untyped-def]
    page.click("form[action$='/cancel'] button[type=submit]")


def quoted_final_bill(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.inner_text("dl.quote > div:nth-child(2) dd strong")).strip()


def shot(page, name: str, language: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"quote-{name}-{language}")


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_a_quote_confirmed_a_minute_later_executes_exactly_as_quoted(  # type: ignore[no-untyped-def]
    frozen_server: LiveServer, clock: FrozenClock, phone, language: str
) -> None:
    page = phone.new_page()
    log_in(page, frozen_server, "mts", ANNA, language)
    open_cancel_form(page, "mts")
    quoted = quoted_final_bill(page)
    shot(page, "cancel", language)
    clock.advance(timedelta(minutes=1))  # the fee would have kept running
    page.select_option("#reason", "leaving_country")
    submit_cancel(page)
    page.wait_for_url(re.compile(r"/cancellations/\d+/verify$"))
    assert quoted in page.inner_text("main")  # the verify page repeats the key figures
    page.fill("#code", frozen_server.sms_code(ANNA))
    page.click("form#sms button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+$"))
    page.wait_for_selector("[data-status='completed']", timeout=15_000)
    final_bill = page.locator("dd:has([data-bill-note])")
    assert final_bill.inner_text().startswith(quoted)
    if language == "en":
        assert "as quoted" in page.locator("[data-bill-note]").inner_text()
    shot(page, "done", language)
    back_never_resends(page)


def back_never_resends(page) -> None:  # type: ignore[no-untyped-def]
    """Back from the finished cancellation lands on a GET page; no form is sent again."""
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.method))
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog appeared: {dialog.message}"))
    page.go_back()
    page.wait_for_load_state()
    assert "POST" not in sent and sent, sent
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "back_forward"
    page.reload()
    assert "POST" not in sent, sent


def test_an_expired_quote_asks_for_a_fresh_one(  # type: ignore[no-untyped-def]
    frozen_server: LiveServer, clock: FrozenClock, phone
) -> None:
    page = phone.new_page()
    log_in(page, frozen_server, "mts", ANNA, "en")
    open_cancel_form(page, "mts")
    first_quote = page.input_value("input[name=quote_id]")
    clock.advance(timedelta(minutes=16))
    page.select_option("#reason", "leaving_country")
    submit_cancel(page)
    page.wait_for_url(re.compile(r"/esims/\d+/cancel$"))
    message = page.locator("#page-message")
    assert "has run out" in message.inner_text()
    assert page.evaluate("document.activeElement.id") == "page-message"
    assert page.input_value("input[name=quote_id]") != first_quote
    assert page.input_value("#reason") == "leaving_country"
    shot(page, "expired", "en")
    assert frozen_server.ctx.sms.messages(to=ANNA) == []  # type: ignore[attr-defined]


def test_the_sms_cap_offers_the_password_and_completes(  # type: ignore[no-untyped-def]
    frozen_server: LiveServer, clock: FrozenClock, phone
) -> None:
    page = phone.new_page()
    log_in(page, frozen_server, "beeline", BORIS, "ru")
    open_cancel_form(page, "beeline")
    page.select_option("#reason", "leaving_country")
    page.fill("#refund_to", "+79161234567")
    submit_cancel(page)
    page.wait_for_url(re.compile(r"/verify$"))
    for _ in range(5):  # the first code and four more reach the hourly cap
        clock.advance(timedelta(seconds=61))
        with page.expect_navigation():
            page.click("form[action$='/verify/resend'] button[type=submit]")
    message = page.locator("#page-message")
    assert message.is_visible()
    assert page.evaluate("document.activeElement.id") == "page-message"
    assert message.locator("a[href='#password']").count() == 1
    assert message.locator("a[href^='tel:']").count() == 1
    assert message.bounding_box()["y"] < 844  # in view on the phone  # type: ignore[index]
    shot(page, "sms-cap", "ru")
    page.fill("#password", PASSWORD)
    page.click("form#password-form button[type=submit]")
    page.wait_for_selector("[data-status='scheduled']")


def test_the_status_page_after_undo_says_the_steps_are_not_needed(  # type: ignore[no-untyped-def]
    frozen_server: LiveServer, phone
) -> None:
    page = phone.new_page()
    log_in(page, frozen_server, "beeline", BORIS, "zh")
    open_cancel_form(page, "beeline")
    page.select_option("#reason", "leaving_country")
    page.fill("#refund_to", "+79161234567")
    submit_cancel(page)
    page.wait_for_url(re.compile(r"/verify$"))
    page.fill("#password", PASSWORD)
    page.click("form#password-form button[type=submit]")
    page.wait_for_selector("[data-status='scheduled']")
    page.click("form[action$='/undo'] button[type=submit]")
    page.wait_for_selector("[data-status='undone']")
    steps = page.locator("ol.steps li.step")
    notes = page.locator("ol.steps [data-step-note='not-needed']")
    assert steps.count() > 0 and notes.count() == steps.count()
    assert page.locator(".badge--step-waiting").count() == 0
    shot(page, "undone", "zh")


def test_the_megafon_debt_page_shows_one_figure_and_how_to_pay(  # type: ignore[no-untyped-def]
    frozen_server: LiveServer, phone
) -> None:
    page = phone.new_page()
    log_in(page, frozen_server, "megafon", VERA, "en")
    open_cancel_form(page, "megafon")
    debt = page.locator(".callout--bad")
    assert debt.is_visible()
    amounts = set(re.findall(r"\d[\d\s\u00a0\u202f]*[.,]\d\d", debt.inner_text()))
    assert len(amounts) == 1, amounts
    assert debt.locator("a[href='https://pay.megafon.demo.invalid/debt']").is_visible()
    assert debt.locator("a[href^='tel:']").is_visible()
    assert page.locator("#reason").count() == 0
    shot(page, "debt", "en")
