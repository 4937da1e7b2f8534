"""The staff console in real Chromium on a tablet and a laptop screen: an agent finds Anna by
ICCID, reads her timeline and cancels her eSIM on her behalf after she reads back a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from browser_support import LiveServer, screenshot
from sqlalchemy import select

from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.sandbox.demo_staff import DEMO_STAFF_PASSWORD, seed_demo_staff
from esimcare.staff.roles import StaffRole

pytestmark = pytest.mark.browser

ANNA = "+79160000001"
TABLET = {"width": 1024, "height": 768}
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture(params=[pytest.param(TABLET, id="tablet"), pytest.param(LAPTOP, id="laptop")])
def screen(chromium, request):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=request.param, locale="en-GB")
    context.set_default_timeout(10_000)
    yield context, "tablet" if request.param is TABLET else "laptop"
    context.close()


def _anna_iccid(server: LiveServer) -> str:
    with transaction(server.ctx.sessions) as session:
        esim = session.scalars(select(Esim).where(Esim.msisdn == ANNA)).one()
        return esim.iccid


def _log_in(page, server: LiveServer, name: str) -> None:  # type: ignore[no-untyped-def]
    agent = next(
        s
        for s in seed_demo_staff(server.ctx)
        if s.operator_id == "mts" and s.role is StaffRole.AGENT
    )
    page.goto(f"{server.url}/staff/login?lang=en")
    screenshot(page, f"console-{name}-login")
    page.fill("#email", agent.email)
    page.fill("#password", DEMO_STAFF_PASSWORD)
    page.click("form[action='/staff/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/login/second-factor$"))
    page.fill("#code", pyotp.TOTP(agent.totp_secret).now())
    page.click("form[action='/staff/login/totp'] button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))


def _wait_for_message(server: LiveServer, text: str, timeout_s: float = 15.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in server.ctx.sms.messages(to=ANNA):  # type: ignore[attr-defined]
            if text in message.body:
                return str(message.body)
        time.sleep(0.2)
    raise AssertionError(f"no SMS to {ANNA} containing {text!r}")


def test_an_agent_cancels_annas_esim_on_her_behalf(live_server: LiveServer, screen) -> None:  # type: ignore[no-untyped-def]
    context, name = screen
    page = context.new_page()
    _log_in(page, live_server, name)
    assert any(c["name"] == "__Host-staff" for c in context.cookies())
    iccid = _anna_iccid(live_server)
    page.fill("#q", iccid)
    page.click("form.search button[type=submit]")
    page.wait_for_selector("a.result")
    screenshot(page, f"console-{name}-search")
    page.click("a.result >> text=Anna Ivanova")
    page.wait_for_url(re.compile(r"/staff/customers/\d+$"))
    assert "+7********01" in page.inner_text("[data-contact='phone']")
    assert page.locator(".timeline .entry").count() > 0
    screenshot(page, f"console-{name}-customer")

    page.click("article.esim >> nth=0 >> a[href$='/cancel']")
    page.wait_for_url(re.compile(r"/esims/\d+/cancel$"))
    assert page.locator("dl.quote").is_visible()
    screenshot(page, f"console-{name}-cancel")
    page.select_option("#reason", "not_needed")
    page.check("input[name=check][value=code]")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/verify\?check=code$"))
    page.fill("#code", live_server.sms_code(ANNA))
    screenshot(page, f"console-{name}-verify")
    page.click("form[action$='/verify'] button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/customers/\d+\?done=C-"))
    reference = page.url.rsplit("done=", 1)[1]
    assert reference in page.inner_text("main")

    # Anna hears of it in her language, exactly as after a portal cancellation.
    requested = _wait_for_message(live_server, f"номер заявки {reference}")
    assert "запрошена отмена" in requested
    _wait_for_message(live_server, f"отменена (заявка {reference})")  # all steps done
    page.reload()
    page.wait_for_selector(f".timeline >> text={reference}: completed")
    screenshot(page, f"console-{name}-timeline")
    page.goto(page.url.split("?")[0] + "?lang=ru")
    assert page.locator("h2#timeline-title").inner_text() == "Хронология"
    screenshot(page, f"console-{name}-customer-ru")
