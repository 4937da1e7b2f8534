"""Notices follow the language the customer used for the request; 404 pages follow the page."""

from __future__ import annotations

import re

from portal_support import csrf, esim_ids, hidden, latest_code, log_in, portal_client, text_of

from esimcare.context import Context
from esimcare.notices.models import Notice


def test_the_request_notice_is_in_the_language_of_the_request_with_a_local_date(
    demo: Context,
) -> None:
    client = portal_client(demo, "zh-CN")
    assert log_in(client, "mts").status_code == 303
    esim_id = esim_ids(client, "mts")[0]
    form = client.get(f"/mts/esims/{esim_id}/cancel").text
    sent = client.post(
        f"/mts/esims/{esim_id}/cancel",
        data={"csrf": csrf(form), "form_token": hidden(form, "form_token"),
              "reason": "leaving_country"},
        follow_redirects=False,
    )  # fmt: skip
    assert sent.status_code == 303
    code_sms = demo.sms.messages(to="+79160000001")[0].body  # type: ignore[attr-defined]
    assert "验证码" in code_sms
    verify = client.get(sent.headers["location"]).text
    client.post(
        sent.headers["location"],
        data={"csrf": csrf(verify), "method": "sms", "secret": latest_code(demo, "+79160000001")},
    )
    with demo.sessions() as session:
        bodies = [n.body for n in session.query(Notice).filter(Notice.subject == "已申请取消 eSIM")]
    assert bodies, "the request notice is in Chinese"
    assert "生效时间" in bodies[0] and "莫斯科时间" in bodies[0]
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", bodies[0])


def test_a_missing_page_speaks_the_page_language(demo: Context) -> None:
    client = portal_client(demo, "zh-CN")
    for path in ("/mts/no-such-page", "/no-such-page"):
        page = client.get(path)
        assert page.status_code == 404
        words = text_of(page.text).split(">", 1)[1].split("MTS (demo)")[0]
        assert "找不到该页面或项目" in words
        assert not re.search(r"[A-Za-z]{3,}", words.replace("eSIM", "")), words
