"""The portal's look at phone size: every page in ru/en/zh on screenshots, a header on one row,
a visible focus ring, results that take focus, and a copy button for the activation code."""

from __future__ import annotations

import re

import pytest
from browser_support import LiveServer, screenshot
from test_portal_browser import log_in

from esimcare.portal.theme import contrast_ratio

pytestmark = pytest.mark.browser

LANGUAGES = ("ru", "en", "zh")
LOGINS = {"mts": "+79160000001", "beeline": "+79030000001", "megafon": "+79250000001"}


def shot(page, name: str, language: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"portal-{name}-{language}")


def esim_links(page, op: str) -> list[str]:  # type: ignore[no-untyped-def]
    hrefs = page.eval_on_selector_all("a.card-link", "links => links.map(a => a.pathname)")
    return [href for href in hrefs if re.fullmatch(rf"/{op}/esims/\d+", href)]


def order_an_esim(page, server: LiveServer, language: str) -> str:  # type: ignore[no-untyped-def]
    """Orders a Travel eSIM; returns its page's path."""
    page.goto(f"{server.url}/mts/order")
    shot(page, "order", language)
    page.click("form[action$='/order'] button[type=submit]")
    page.wait_for_url(re.compile(r"/esims/\d+/activation$"))
    shot(page, "activation", language)
    return str(page.evaluate("location.pathname")).removesuffix("/activation")


def cancel_a_seeded_esim(page, server: LiveServer, language: str, ordered: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/mts/esims")
    first = next(link for link in esim_links(page, "mts") if link != ordered)
    page.goto(f"{server.url}{first}")
    shot(page, "esim", language)
    page.goto(f"{server.url}{first}/cancel")
    shot(page, "cancel", language)
    page.select_option("#reason", "leaving_country")
    page.click("form[action$='/cancel'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+/verify$"))
    shot(page, "verify", language)
    page.fill("#code", "000000" if server.sms_code("+79160000001") != "000000" else "111111")
    page.click("form[action$='/verify'] button[type=submit]")
    page.wait_for_selector(".alert")
    assert page.evaluate("document.activeElement.classList.contains('alert')")
    shot(page, "verify-error", language)
    page.fill("#code", server.sms_code("+79160000001"))
    page.click("form[action$='/verify'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cancellations/\d+$"))
    page.wait_for_selector("[data-status='completed']", timeout=15_000)
    shot(page, "status", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_photographed_at_phone_size(  # type: ignore[no-untyped-def]
    live_server: LiveServer, phone, language: str
) -> None:
    page = phone.new_page()
    page.goto(f"{live_server.url}/?lang={language}")
    shot(page, "home", language)
    page.fill("#number", "12")
    page.click("form[action='/identify'] button[type=submit]")
    page.wait_for_selector("#number-error")
    assert page.evaluate("document.activeElement.id") == "number-error"
    shot(page, "identify-error", language)
    page.goto(f"{live_server.url}/mts/login")
    shot(page, "login", language)
    log_in(page, live_server, "mts", LOGINS["mts"])
    ordered = order_an_esim(page, live_server, language)
    cancel_a_seeded_esim(page, live_server, language, ordered)
    page.goto(f"{live_server.url}/mts/esims")
    assert page.locator(".cards--past .card").count() == 1
    ordered_card = page.inner_text(f".cards--grid:not(.cards--past) a[href='{ordered}']")
    assert re.search(r"·\d{4}", ordered_card)  # "Travel ·0236": plan and last digits
    shot(page, "esims", language)
    page.goto(f"{live_server.url}/mts/help")
    shot(page, "help", language)
    page.goto(f"{live_server.url}/mts/no-such-page")
    shot(page, "not-found", language)
    page.goto(f"{live_server.url}/megafon/login")
    log_in(page, live_server, "megafon", LOGINS["megafon"])
    page.goto(f"{live_server.url}{esim_links(page, 'megafon')[0]}/cancel")
    assert page.locator(".pay-ways a[href^='https://']").count() == 1
    assert page.locator(".pay-ways a[href^='tel:']").count() == 1
    shot(page, "debt", language)


@pytest.mark.parametrize("operator", sorted(LOGINS))
def test_the_header_stays_on_one_row_in_every_language(  # type: ignore[no-untyped-def]
    live_server: LiveServer, phone, operator: str
) -> None:
    page = phone.new_page()
    for language in LANGUAGES:
        page.goto(f"{live_server.url}/{operator}/login?lang={language}")
        brand = page.locator(".top .brand").bounding_box()
        langs = page.locator(".top .langs").bounding_box()
        row = page.locator(".top-row").bounding_box()
        assert brand and langs and row
        assert abs(brand["y"] - langs["y"]) < langs["height"], (operator, language)
        assert row["height"] < 2 * langs["height"] + 24, (operator, language)
        assert brand["x"] + brand["width"] <= langs["x"], (operator, language)


def _rgb(css_color: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


def test_the_keyboard_focus_ring_is_visible_and_contrasts_3_to_1(  # type: ignore[no-untyped-def]
    live_server: LiveServer, chromium
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/mts/login?lang=en")
    page.focus("#login")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # onto the log-in button, reached by keyboard
    ring = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
        const bg = getComputedStyle(document.querySelector('.form')).backgroundColor;
        return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth, s.outlineColor,
                bg]; }"""
    )
    tag, style, width, color, background = ring
    assert (tag, style) == ("BUTTON", "solid")
    assert float(width.removesuffix("px")) >= 2
    assert contrast_ratio(_rgb(color), _rgb(background)) >= 3
    screenshot(page, "portal-focus-ring-en")
    context.close()


def test_the_copy_button_copies_the_activation_code(  # type: ignore[no-untyped-def]
    live_server: LiveServer, chromium
) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/?lang=zh")
    log_in(page, live_server, "mts", LOGINS["mts"])
    order_an_esim(page, live_server, "zh-copy")
    code = page.get_attribute(".lpa", "data-activation-code")
    assert code and code.startswith("LPA:1$")
    page.click("button[data-copy]")
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == code
    # Each part of the code stays on one line: it breaks only after a "$".
    lines = page.eval_on_selector_all(
        ".lpa span", "parts => parts.map(p => p.getClientRects().length)"
    )
    assert lines and set(lines) == {1}
    context.close()


def test_form_checks_speak_the_page_language(  # type: ignore[no-untyped-def]
    live_server: LiveServer, phone
) -> None:
    page = phone.new_page()
    page.goto(f"{live_server.url}/mts/login?lang=ru")
    page.click("form[action$='/login'] button[type=submit]")
    message = page.evaluate("document.getElementById('login').validationMessage")
    assert message == "Заполните это поле."
