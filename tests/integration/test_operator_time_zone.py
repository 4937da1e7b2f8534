"""Times are told in the operator's time zone (its policy's ``time_zone``), in the reader's
language: the same moment reads 15:00 in Moscow and 22:00 in Vladivostok, in a notice and on a
portal page alike. Nothing about Moscow is built in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from portal_support import log_in, portal_client, text_of
from sqlalchemy import select

from esimcare.context import Context
from esimcare.db import transaction
from esimcare.kit.local_time import local_datetime, time_zone
from esimcare.notices.models import Notice
from esimcare.operators.policy import PolicyError, parse_policy
from tests.support import request_and_verify_mts

NOON_UTC = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # the demo clock: the request's moment


def in_time_zone(ctx: Context, operator_id: str, name: str) -> None:
    ctx.policies[operator_id] = replace(ctx.policy(operator_id), time_zone=name)


def requested_notice(ctx: Context, cancellation_id: int) -> str:
    with transaction(ctx.sessions) as session:
        key = f"cancellation:{cancellation_id}:requested:sms"
        notice = session.scalar(select(Notice).where(Notice.dedupe_key == key))
        assert notice is not None
        return notice.body.replace("\u202f", " ")  # Babel's narrow no-break space


@pytest.mark.parametrize(
    ("zone", "told"),
    [
        ("Europe/Moscow", "23 ноября 2026 г., 15:00 (Москва)"),
        ("Asia/Vladivostok", "23 ноября 2026 г., 22:00 (Владивосток)"),
        ("America/New_York", "23 ноября 2026 г., 07:00 (Восточная Америка)"),
    ],
)
def test_the_requested_notice_tells_the_effective_time_in_the_operators_zone(
    demo: Context, zone: str, told: str
) -> None:
    in_time_zone(demo, "mts", zone)
    cancellation_id, quote = request_and_verify_mts(demo)  # Anna reads Russian
    assert quote["effective_at"] == "2026-11-23T12:00:00Z"
    body = requested_notice(demo, cancellation_id)
    assert told in body
    assert "2026-11-23T12:00:00Z" not in body  # no machine timestamp for a person


@pytest.mark.parametrize(
    ("zone", "language", "told"),
    [
        ("Europe/Moscow", "en", "Requested 23 November 2026, 15:00 (Moscow Time)"),
        ("Asia/Vladivostok", "en", "Requested 23 November 2026, 22:00 (Vladivostok Time)"),
        ("Asia/Vladivostok", "zh", "2026年11月23日, 22:00 (海参崴时间)"),
        ("UTC", "en", "Requested 23 November 2026, 12:00 (UTC)"),
    ],
)
def test_the_status_page_shows_local_time_from_the_policy(
    demo: Context, zone: str, language: str, told: str
) -> None:
    in_time_zone(demo, "mts", zone)
    cancellation_id, _ = request_and_verify_mts(demo)
    client = portal_client(demo, language)
    log_in(client, "mts")
    page = client.get(f"/mts/cancellations/{cancellation_id}")
    assert page.status_code == 200
    assert told in text_of(page.text)


def test_local_time_names_its_zone_in_the_readers_language() -> None:
    vladivostok = time_zone("Asia/Vladivostok")
    assert (
        local_datetime(NOON_UTC, vladivostok, "en") == "23 November 2026, 22:00 (Vladivostok Time)"
    )
    assert local_datetime(NOON_UTC, time_zone("Europe/Berlin"), "en").endswith(
        "13:00 (Central European Time)"
    )


DEMO_LIKE = {
    "name": "X", "verification_methods": ["sms"], "refund_route": "card", "currency": "EUR",
    "debt_blocks_cancellation": False, "grace_period_hours": 0, "number_quarantine_days": 0,
    "smdp_final_status": "Unavailable", "hotline": "1", "hotline_hours": {"en": "24/7"},
    "support_email": "a@b.invalid", "reasons": [{"code": "x", "en": "X"}],
}  # fmt: skip


def test_a_policy_without_a_time_zone_tells_utc_and_a_wrong_one_is_refused() -> None:
    assert parse_policy("x", DEMO_LIKE).time_zone == "UTC"
    assert parse_policy("x", {**DEMO_LIKE, "time_zone": "Asia/Vladivostok"}).tzinfo == time_zone(
        "Asia/Vladivostok"
    )
    with pytest.raises(PolicyError, match="unknown time zone 'Moscow'"):
        parse_policy("x", {**DEMO_LIKE, "time_zone": "Moscow"})


def test_a_policy_names_its_currency_and_no_country_is_assumed() -> None:
    without = {key: value for key, value in DEMO_LIKE.items() if key != "currency"}
    with pytest.raises(PolicyError, match="missing field 'currency'"):
        parse_policy("x", without)
    with pytest.raises(PolicyError, match="unknown currency"):
        parse_policy("x", {**DEMO_LIKE, "currency": "XYZW"})
    policy = parse_policy("x", {**DEMO_LIKE, "currency": "eur"})
    assert (policy.currency, policy.region) == ("EUR", None)
