"""The portal in real Chromium on a phone-sized screen, in Russian, English and Chinese."""

from __future__ import annotations

import re

import pytest
from browser_support import LiveServer, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "demo-password-1"


def log_in(page, server: LiveServer, op: str, login: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/{op}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(re.compile(rf"/{op}/esims$"))


def open_first_esim_cancel_form(page, op: str) -> None:  # type: ignore[no-untyped-def]
    page.click("a.card-link >> nth=0")
    page.wait_for_url(re.compile(rf"/{op}/esims/\d+$"))
    page.click("a[href$='/cancel']")
    page.wait_for_url(re.compile(rf"/{op}/esims/\d+/cancel$"))


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_mts_cancellation_end_to_end(live_server: LiveServer, phone, language: str) -> None:  # type: ignore[no-untyped-def]
    page = phone.new_page()
    page.goto(f"{live_server.url}/?lang={language}")
    screenshot(page, f"{language}-home")
    page.click("a[href='/mts/login']")
    log_in(page, live_server, "mts", "+79160000001")
    assert [c["name"] for c in phone.cookies() if c["name"].startswith("__Host-esimcare")]
    assert page.locator("html").get_attribute("lang") in (language, "zh-Hans")
    screenshot(page, f"{language}-esims")
    open_first_esim_cancel_form(page, "mts")
    assert page.locator("dl.quote").is_visible()
    assert page.locator(".callout--warn").is_visible()  # back up your data
    screenshot(page, f"{language}-cancel")
    page.select_option("#reason", "leaving_country")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+/verify$"))
    assert "+7********01" in page.inner_text("main")
    screenshot(page, f"{language}-verify")
    page.fill("#code", live_server.sms_code("+79160000001"))
    page.click("form[action$='/verify'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+$"))
    page.wait_for_selector("[data-status='completed']", timeout=15_000)
    assert page.locator("section.device").is_visible()
    assert page.locator(".badge--step-done").count() == 5
    screenshot(page, f"{language}-status")


def test_beeline_cancellation_is_undone_from_the_link_in_the_message(  # type: ignore[no-untyped-def]
    live_server: LiveServer, phone, chromium
) -> None:
    page = phone.new_page()
    page.goto(f"{live_server.url}/?lang=zh")
    log_in(page, live_server, "beeline", "+79030000001")
    open_first_esim_cancel_form(page, "beeline")
    page.select_option("#reason", "leaving_country")
    page.fill("#refund_to", "+79161234567")
    screenshot(page, "zh-cancel-beeline")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/verify$"))
    page.fill("#password", PASSWORD)
    page.click("form:has(#password) button[type=submit]")
    page.wait_for_selector("[data-status='scheduled']")
    screenshot(page, "zh-status-scheduled")
    link = _undo_link(live_server, "+79030000001")
    stranger = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    undo_page = stranger.new_page()
    undo_page.goto(f"{live_server.url}{link}")
    screenshot(undo_page, "zh-undo")
    undo_page.click("form button[type=submit]")
    undo_page.wait_for_selector("[data-status='undone']")
    stranger.close()
    page.reload()
    page.wait_for_selector("[data-status='undone']")


def _undo_link(server: LiveServer, phone_number: str) -> str:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in server.ctx.sms.messages(to=phone_number):  # type: ignore[attr-defined]
            found = re.search(r"/beeline/undo/[A-Za-z0-9_\-]+", message.body)
            if found:
                return found.group(0)
        time.sleep(0.2)
    raise AssertionError("no undo link was sent")


def test_megafon_debt_is_explained_before_anything_happens(  # type: ignore[no-untyped-def]
    live_server: LiveServer, phone
) -> None:
    page = phone.new_page()
    page.goto(f"{live_server.url}/?lang=en")
    log_in(page, live_server, "megafon", "+79250000001")
    open_first_esim_cancel_form(page, "megafon")
    alert = page.locator(".callout--bad")
    assert alert.is_visible()
    assert "debt" in alert.inner_text().lower()
    assert page.locator("#reason").count() == 0
    screenshot(page, "en-debt")
