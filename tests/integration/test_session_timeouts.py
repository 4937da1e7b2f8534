"""Sessions end after 30 idle minutes or 12 hours in all, and use keeps them alive."""

from __future__ import annotations

from datetime import timedelta

import pytest

from esimcare.context import Context
from esimcare.customers.authenticate import authenticate
from esimcare.customers.service import LoginAttempt, log_in
from esimcare.errors import AuthenticationError
from esimcare.kit.clock import FrozenClock


def open_session(ctx: Context) -> str:
    _, issued = log_in(ctx, LoginAttempt("mts", "anna@example.com", "demo-password-1"))
    return issued.token


def advance(ctx: Context, minutes: int) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(minutes=minutes))


def test_a_session_used_every_twenty_minutes_stays_alive(demo: Context) -> None:
    token = open_session(demo)
    for _ in range(5):
        advance(demo, 20)
        assert authenticate(demo, "mts", token).customer.email == "anna@example.com"


def test_a_session_idle_for_thirty_minutes_has_ended(demo: Context) -> None:
    token = open_session(demo)
    advance(demo, 31)
    with pytest.raises(AuthenticationError):
        authenticate(demo, "mts", token)


def test_a_session_ends_after_twelve_hours_however_busy(demo: Context) -> None:
    token = open_session(demo)
    for _ in range(12 * 3 - 1):
        advance(demo, 20)
        authenticate(demo, "mts", token)
    advance(demo, 20)
    with pytest.raises(AuthenticationError):
        authenticate(demo, "mts", token)


def test_a_token_of_one_operator_is_refused_by_another(demo: Context) -> None:
    token = open_session(demo)
    with pytest.raises(AuthenticationError):
        authenticate(demo, "beeline", token)
