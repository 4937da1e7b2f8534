"""Texts built from data and notices come from the catalogs, in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from esimcare.i18n import format_local_datetime
from esimcare.notices.templates import TEMPLATES, render
from esimcare.portal.wording import in_brackets, labelled, refund_destination

MOMENT = datetime(2026, 11, 24, 11, 5, tzinfo=UTC)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T")


def test_a_card_destination_is_worded_in_the_readers_language() -> None:
    assert refund_destination("card **** 4242", "ru") == "карта **** 4242"
    assert refund_destination("card **** 4242", "zh") == "银行卡 **** 4242"
    assert refund_destination("card **** 4242", "en") == "card **** 4242"
    assert refund_destination("+79161234567", "en") == "+7********67"


def test_chinese_gets_full_width_colons_and_brackets() -> None:
    assert labelled("退款", "银行卡", "zh") == "退款：银行卡"
    assert in_brackets("全天 24 小时", "zh") == "（全天 24 小时）"
    assert labelled("Refund", "card", "en") == "Refund: card"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "24 November 2026, 14:05 (Moscow time)"),
        ("ru", "24 ноября 2026 г., 14:05 (МСК)"),
        ("zh", "2026年11月24日 14:05（莫斯科时间）"),
    ],
)
def test_dates_are_written_for_the_language_and_the_time_zone(language: str, expected: str) -> None:
    written = format_local_datetime(MOMENT, language, "Europe/Moscow")
    assert written.replace("\u202f", " ").replace("\u00a0", " ") == expected


def test_another_time_zone_is_shown_by_its_offset() -> None:
    assert format_local_datetime(MOMENT, "en", "Asia/Shanghai").endswith("19:05 (GMT+08:00)")


@pytest.mark.parametrize("language", ["ru", "zh"])
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_notice_is_translated(name: str, language: str) -> None:
    params = dict.fromkeys(
        ["operator", "code", "msisdn", "minutes", "reference", "effective", "undo", "hotline",
         "link", "bill", "refund", "device"], "X",
    )  # fmt: skip
    subject, body = render(name, language, **params)
    english_subject, english_body = render(name, "en", **params)
    assert body != english_body
    assert subject != english_subject or not subject


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_a_notice_never_shows_a_raw_timestamp(language: str) -> None:
    _, body = render(
        "cancellation_requested", language, operator="MTS", msisdn="+79160000001",
        reference="C-1", effective=MOMENT, undo="", hotline="+7 800",
    )  # fmt: skip
    assert not ISO.search(body)
    assert format_local_datetime(MOMENT, language) in body
