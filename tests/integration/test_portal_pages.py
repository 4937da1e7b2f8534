"""Every portal page renders in Russian, English and Chinese, with the hotline and the demo note."""

from __future__ import annotations

import pytest
from portal_support import csrf, esim_ids, hidden, log_in, portal_client, text_of

from esimcare.context import Context

HEADINGS = {
    "ru": {
        "home": "Управление eSIM",
        "login": "Войти",
        "list": "Мои eSIM",
        "cancel": "Что будет при отмене",
        "verify": "Подтвердите отмену",
        "status": "Заявка принята",
        "demo": "Демо-оператор",
    },
    "en": {
        "home": "Manage your eSIM",
        "login": "Log in",
        "list": "My eSIMs",
        "cancel": "What cancelling means for you",
        "verify": "Confirm the cancellation",
        "status": "Your request is accepted",
        "demo": "Demo operator",
    },
    "zh": {
        "home": "管理您的 eSIM",
        "login": "登录",
        "list": "我的 eSIM",
        "cancel": "取消对您意味着什么",
        "verify": "确认取消",
        "status": "您的申请已受理",
        "demo": "演示运营商",
    },
}
HTML_LANG = {"ru": 'lang="ru"', "en": 'lang="en"', "zh": 'lang="zh-Hans"'}


def assert_page(html: str, language: str, heading: str, *, operator: bool = True) -> None:
    assert HTML_LANG[language] in html
    assert heading in html
    assert "+7 800 000-00-01" in html  # the mts hotline in the footer (all operators on /)
    assert "support@mts.demo.invalid" in html
    if operator:
        assert HEADINGS[language]["demo"] in html
    assert "Traceback" not in html


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_each_page_of_the_cancellation_renders_in_the_chosen_language(
    demo: Context, language: str
) -> None:
    words = HEADINGS[language]
    client = portal_client(demo)
    assert_page(client.get(f"/?lang={language}").text, language, words["home"], operator=False)
    assert_page(client.get("/mts/login").text, language, words["login"])
    log_in(client, "mts")
    assert_page(client.get("/mts/esims").text, language, words["list"])
    esim = esim_ids(client, "mts")[0]
    assert_page(client.get(f"/mts/esims/{esim}").text, language, "ICCID")
    cancel = client.get(f"/mts/esims/{esim}/cancel")
    assert_page(cancel.text, language, words["cancel"])
    verify = client.post(
        f"/mts/esims/{esim}/cancel",
        data={
            "csrf": csrf(cancel.text),
            "form_token": hidden(cancel.text, "form_token"),
            "reason": "leaving_country",
        },
    )
    assert verify.url.path.endswith("/verify")
    assert_page(verify.text, language, words["verify"])
    assert "+7********01" in verify.text


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_the_status_page_renders_in_each_language(demo: Context, language: str) -> None:
    client = portal_client(demo)
    client.get(f"/?lang={language}")
    log_in(client, "beeline")  # password verification: no SMS needed
    esim = esim_ids(client, "beeline")[0]
    cancel = client.get(f"/beeline/esims/{esim}/cancel")
    verify = client.post(
        f"/beeline/esims/{esim}/cancel",
        data={
            "csrf": csrf(cancel.text),
            "form_token": hidden(cancel.text, "form_token"),
            "reason": "too_expensive",
            "refund_to": "+79031234567",
        },
    )
    status = client.post(
        verify.url.path,
        data={"csrf": csrf(verify.text), "method": "password", "secret": "demo-password-1"},
    )
    assert status.status_code == 200
    assert HTML_LANG[language] in status.text
    assert HEADINGS[language]["status"] in status.text
    assert "+7 800 000-00-02" in status.text
    assert 'data-status="scheduled"' in status.text


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_error_pages_are_readable_in_the_chosen_language(demo: Context, language: str) -> None:
    client = portal_client(demo)
    client.get(f"/?lang={language}")
    missing = client.get("/no-such-operator/login")
    assert missing.status_code == 404
    assert HTML_LANG[language] in missing.text
    assert {"ru": "не нашли", "en": "could not find", "zh": "找不到"}[language] in missing.text
    log_in(client, "mts")
    other = client.get("/mts/esims/999999")
    assert other.status_code == 404
    assert "+7 800 000-00-01" in other.text  # the operator's hotline on its own error page


def test_the_list_shows_label_number_iccid_status_plan_and_balance(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    page = text_of(client.get("/mts/esims").text)
    assert "Main" in page and "Travel" in page
    assert "+7 916 000-00-01" in page and "+7 916 000-00-02" in page
    assert "8970 1010 0000 0000" in page  # ICCIDs, grouped for reading
    assert page.count("Active") == 2
    assert "Smart" in page
    assert "RUB" in page and "bonus" in page


def test_the_esim_page_offers_cancel_and_later_links_to_the_open_cancellation(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    assert f"/mts/esims/{esim}/cancel" in client.get(f"/mts/esims/{esim}").text
    cancel = client.get(f"/mts/esims/{esim}/cancel")
    client.post(
        f"/mts/esims/{esim}/cancel",
        data={
            "csrf": csrf(cancel.text),
            "form_token": hidden(cancel.text, "form_token"),
            "reason": "not_needed",
        },
    )
    page = client.get(f"/mts/esims/{esim}").text
    assert f"/mts/esims/{esim}/cancel" not in page
    assert "waiting for your confirmation" in page
