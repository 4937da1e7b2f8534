"""Passkeys in real Chromium at phone size, with Chromium's virtual authenticator (CTAP2,
internal transport, resident keys, user verification: a phone's face or fingerprint unlock).

WebAuthn needs a secure context and a domain as the relying party id, so the server listens
on 127.0.0.1 and the browser uses http://localhost (a secure context; the RP id "localhost")."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from browser_support import LiveServer, free_port, screenshot

from esimcare.app import create_app
from esimcare.kit.clock import SystemClock

pytestmark = pytest.mark.browser

PASSWORD = "demo-password-1"
ANNA = "+79160000001"


@pytest.fixture
def localhost_server(make_context) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    port = free_port()
    ctx = make_context(clock=SystemClock(), public_url=f"http://localhost:{port}")
    config = uvicorn.Config(create_app(ctx, run_worker=True), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://localhost:{port}", ctx)
    server.should_exit = True
    thread.join(timeout=15)


def _with_authenticator(phone):  # type: ignore[no-untyped-def]
    """A page whose browser has a platform authenticator that verifies the user."""
    page = phone.new_page()
    cdp = phone.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip
    return page, cdp, added["authenticatorId"]


def _log_in_with_password(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/mts/login")
    page.fill("#login", ANNA)
    page.fill("#password", PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/mts/esims$"))


@pytest.mark.parametrize("language", ["en", "ru", "zh"])
def test_a_passkey_is_added_logs_in_and_confirms_a_cancellation(  # type: ignore[no-untyped-def]
    localhost_server: LiveServer, phone, language: str
) -> None:
    server = localhost_server
    page, cdp, authenticator = _with_authenticator(phone)
    page.goto(f"{server.url}/?lang={language}")
    _log_in_with_password(page, server)
    page.click("a[href='/mts/account/passkeys']")
    page.wait_for_url(re.compile(r"/mts/account/passkeys$"))
    screenshot(page, f"passkey-{language}-account-empty")
    page.fill("#passkey-label", "Pixel 9")
    page.click("#passkey-register")
    page.wait_for_url(re.compile(r"/mts/account/passkeys\?done=added$"))
    assert "Pixel 9" in page.inner_text("ul.passkeys")
    assert page.locator("p.notice").is_visible()
    screenshot(page, f"passkey-{language}-account-added")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert [c["isResidentCredential"] for c in stored["credentials"]] == [True]

    page.click("form.logout button[type=submit]")
    page.wait_for_url(re.compile(r"/mts/login\?bye=1$"))
    screenshot(page, f"passkey-{language}-login")
    page.click("#passkey-login")
    page.wait_for_url(re.compile(r"/mts/esims$"))

    page.click("a.card-link >> nth=0")
    page.click("a[href$='/cancel']")
    page.select_option("#reason", "not_needed")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+/verify$"))
    assert page.locator("#passkey-verify").is_visible()
    screenshot(page, f"passkey-{language}-verify")
    page.click("#passkey-verify")
    page.wait_for_url(re.compile(r"/cancellations/\d+$"))
    page.wait_for_selector("[data-status='scheduled'], [data-status='processing'], "
                           "[data-status='completed']")  # fmt: skip
    screenshot(page, f"passkey-{language}-confirmed")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert stored["credentials"][0]["signCount"] >= 2  # the login and the confirmation


def test_a_refused_face_check_keeps_the_cancellation_waiting(  # type: ignore[no-untyped-def]
    localhost_server: LiveServer, phone
) -> None:
    """The phone's unlock fails: no confirmation, and the page says so where the eye is."""
    server = localhost_server
    page, cdp, authenticator = _with_authenticator(phone)
    _log_in_with_password(page, server)
    page.goto(f"{server.url}/mts/account/passkeys")
    page.click("#passkey-register")
    page.wait_for_url(re.compile(r"\?done=added$"))
    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False}
    )
    page.goto(f"{server.url}/mts/esims")
    page.click("a.card-link >> nth=0")
    page.click("a[href$='/cancel']")
    page.select_option("#reason", "not_needed")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/verify$"))
    page.click("#passkey-verify")
    error = page.locator("#passkey-error")
    error.wait_for(state="visible")
    assert error.evaluate("e => e === document.activeElement")
    assert page.url.endswith("/verify")
    screenshot(page, "passkey-en-verify-refused")
