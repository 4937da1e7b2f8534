"""One-time codes as security.md sets them: bound, short-lived, few tries, throttled sends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from esimcare.context import Context
from esimcare.customers.codes import check_code, issue_code
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import CodeExpiredError, ResendTooSoonError, WrongCodeError
from esimcare.kit.clock import FrozenClock
from tests.support import customer


def issue(ctx: Context, who: Customer, subject: str) -> str:
    with transaction(ctx.sessions) as session:
        fresh = session.get(Customer, who.id)
        assert fresh is not None
        return issue_code(
            session,
            fresh,
            purpose="cancellation",
            subject=subject,
            destination=fresh.phone,
            now=ctx.clock.now(),
            limits=ctx.settings.limits,
            key=ctx.settings.secret_key,
        ).code


def check(ctx: Context, who: Customer, subject: str, code: str) -> None:
    with transaction(ctx.sessions) as session:
        fresh = session.get(Customer, who.id)
        assert fresh is not None
        check_code(
            session,
            fresh,
            purpose="cancellation",
            subject=subject,
            code=code,
            now=ctx.clock.now(),
            limits=ctx.settings.limits,
            key=ctx.settings.secret_key,
        )


def advance(ctx: Context, **delta: float) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(**delta))


def test_a_code_confirms_only_the_request_it_was_sent_for(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")
    code = issue(demo, anna, "1")
    with pytest.raises(CodeExpiredError):
        check(demo, anna, "2", code)
    check(demo, anna, "1", code)


def test_a_code_works_once(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")
    code = issue(demo, anna, "1")
    check(demo, anna, "1", code)
    with pytest.raises(CodeExpiredError):
        check(demo, anna, "1", code)


def test_a_code_expires_after_five_minutes(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")
    code = issue(demo, anna, "1")
    advance(demo, minutes=5, seconds=1)
    with pytest.raises(CodeExpiredError):
        check(demo, anna, "1", code)


def test_wrong_tries_count_down_and_a_new_code_does_not_reset_the_account_count(
    demo: Context,
) -> None:
    anna = customer(demo, "mts", "+79160000001")
    issue(demo, anna, "1")
    left = []
    for _ in range(5):
        with pytest.raises(WrongCodeError) as wrong:
            check(demo, anna, "1", "000000x")
        left.append(wrong.value.extra["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    advance(demo, seconds=61)
    code = issue(demo, anna, "1")
    check(demo, anna, "1", code)


def test_a_resend_within_a_minute_is_refused_but_another_request_gets_its_code(
    demo: Context,
) -> None:
    anna = customer(demo, "mts", "+79160000001")
    issue(demo, anna, "1")
    with pytest.raises(ResendTooSoonError):
        issue(demo, anna, "1")
    issue(demo, anna, "2")
    advance(demo, seconds=61)
    issue(demo, anna, "1")


def test_at_most_five_codes_an_hour_go_to_one_number(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")
    for subject in "12345":
        issue(demo, anna, subject)
    with pytest.raises(ResendTooSoonError):
        issue(demo, anna, "6")
    advance(demo, hours=1, seconds=1)
    issue(demo, anna, "6")
