"""Counters that limit tries hold under parallel requests, on SQLite and on PostgreSQL.

security.md: "counters that limit tries are changed atomically (one conditional UPDATE or a row
lock), so parallel requests cannot exceed them on any database". Each test starts 40 threads at
once, each in its own transaction, through the same service calls the API and portal make.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from esimcare.cancellations.service import request_cancellation, verify
from esimcare.config import Limits
from esimcare.context import Context
from esimcare.customers.models import Customer, VerificationFailure
from esimcare.customers.service import check_password
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.esims.service import list_esims
from tests.support import customer

PARALLEL = 40


def in_parallel(attempt: Callable[[], str]) -> Counter[str]:
    """Run ``attempt`` in PARALLEL threads released together; count the outcomes."""
    start = threading.Barrier(PARALLEL)

    def released(_: int) -> str:
        start.wait()
        return attempt()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return Counter(pool.map(released, range(PARALLEL)))


def requested_cancellation(ctx: Context) -> tuple[int, int, str]:
    """Anna asks to cancel her first eSIM: her id, the cancellation's id and its SMS code."""
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        fresh = session.get(Customer, anna.id)
        assert fresh is not None
        esim_id = list_esims(session, "mts", anna.id)[0].esim.id
        requested = request_cancellation(session, ctx, fresh, esim_id, reason="not_needed")
        assert requested.code is not None
        return anna.id, requested.cancellation.id, requested.code.code


def verify_by_code(ctx: Context, customer_id: int, cancellation_id: int, code: str) -> str:
    """ "verified", or the code of the domain error the customer would see."""
    try:
        with transaction(ctx.sessions) as session:
            fresh = session.get(Customer, customer_id)
            assert fresh is not None
            verify(session, ctx, fresh, cancellation_id, method="sms", secret=code)
    except DomainError as error:
        return error.code
    return "verified"


def failures_counted(ctx: Context, customer_id: int) -> int:
    with ctx.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(VerificationFailure)
                .where(VerificationFailure.customer_id == customer_id)
            )
            or 0
        )


def test_forty_parallel_wrong_codes_get_five_wrong_code_answers_and_end_the_code(
    make_context: Callable[..., Context], db_url: str
) -> None:
    ctx = make_context(database_url=db_url)
    customer_id, cancellation_id, code = requested_cancellation(ctx)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    answers = in_parallel(lambda: verify_by_code(ctx, customer_id, cancellation_id, wrong))

    assert answers["wrong-code"] == ctx.settings.limits.code_max_attempts == 5, answers
    assert set(answers) == {"wrong-code", "code-expired"}, answers
    assert failures_counted(ctx, customer_id) == 5
    assert verify_by_code(ctx, customer_id, cancellation_id, code) == "code-expired"


def test_forty_parallel_right_codes_confirm_once(
    make_context: Callable[..., Context], db_url: str
) -> None:
    ctx = make_context(database_url=db_url)
    customer_id, cancellation_id, code = requested_cancellation(ctx)

    answers = in_parallel(lambda: verify_by_code(ctx, customer_id, cancellation_id, code))

    assert answers["verified"] == 1, answers
    assert failures_counted(ctx, customer_id) == 0


def test_parallel_wrong_passwords_lock_the_account_exactly_at_its_limit(
    make_context: Callable[..., Context], db_url: str
) -> None:
    # A small hourly limit, so 40 parallel failures overrun it if counting is not atomic.
    limits = Limits(failures_per_hour=10, password_hash_wait_s=30)
    ctx = make_context(database_url=db_url, limits=limits)
    anna = customer(ctx, "mts", "+79160000001")

    def wrong_password() -> str:
        try:
            with transaction(ctx.sessions) as session:
                fresh = session.get(Customer, anna.id)
                assert fresh is not None
                ok = check_password(session, fresh, "not-her-password", now=ctx.clock.now(),
                                    limits=limits, work=ctx.password_work)  # fmt: skip
        except DomainError as error:
            return error.code
        return "accepted" if ok else "wrong"

    answers = in_parallel(wrong_password)

    assert answers == Counter({"wrong": 10, "verification-locked": PARALLEL - 10}), answers
    assert failures_counted(ctx, anna.id) == 10
    with ctx.sessions() as session:
        locked = session.get(Customer, anna.id)
        assert locked is not None
        assert locked.lock_level == 1
        assert locked.locked_until is not None
