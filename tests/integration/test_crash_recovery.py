"""A worker process killed at any point of a cancellation is replaced by another that finishes
it: exactly one final bill, one refund, one payout, and a balanced ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from esimcare.billing.ledger import balance_of
from esimcare.billing.models import Bill, EntryKind, LedgerEntry, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.kit.clock import SystemClock
from esimcare.sandbox.payout_ledger import PayoutLedger
from esimcare.sandbox.stand_ins import stand_ins_of
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.slow

LEASE_S = "1"


def worker_env(ctx: Context, crash_at: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMCARE_")}
    env.update(
        ESIMCARE_DATA_DIR=str(ctx.settings.data_dir),
        ESIMCARE_DATABASE_URL=ctx.settings.database_url,
        ESIMCARE_MODE="development",
        ESIMCARE_JOB_LEASE_S=LEASE_S,
        ESIMCARE_JOB_POLL_S="0.05",
        ESIMCARE_JOB_BACKOFF_BASE_S="0.1",
    )
    if crash_at:
        env["ESIMCARE_CRASH_AT"] = crash_at
    return env


def start_worker(ctx: Context, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "esimcare.cli", "worker"],
        env=worker_env(ctx, crash_at),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_status(
    ctx: Context, cancellation_id: int, status: CancellationStatus, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(ctx.sessions) as session:
            found = session.get(Cancellation, cancellation_id)
            if found is not None and found.status is status:
                return
        time.sleep(0.1)
    raise AssertionError(f"cancellation {cancellation_id} did not become {status} in {timeout}s")


def finish_with_fresh_worker(ctx: Context, cancellation_id: int) -> None:
    worker = start_worker(ctx)
    try:
        wait_for_status(ctx, cancellation_id, CancellationStatus.COMPLETED, timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def assert_settled_exactly_once(ctx: Context, cancellation_id: int, quoted_refund: str) -> None:
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        bills = session.scalar(
            select(func.count()).select_from(Bill).where(Bill.cancellation_id == cancellation_id)
        )
        refunds = list(
            session.scalars(select(Refund).where(Refund.cancellation_id == cancellation_id))
        )
        refund_entries = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.esim_id == cancellation.esim_id, LedgerEntry.kind == EntryKind.REFUND
            )
        )
        balance = balance_of(session, cancellation.esim_id, "RUB")
    payouts = [
        p
        for p in PayoutLedger(stand_ins_of(ctx).store, ctx.clock).payouts()
        if p.idempotency_key == refunds[0].idempotency_key
    ]
    assert bills == 1
    assert len(refunds) == 1
    assert f"{refunds[0].amount_minor / 100:.2f}" == quoted_refund
    assert len(payouts) == 1
    assert refund_entries == 1
    assert balance.cash.minor == 0


@pytest.mark.parametrize(
    "crash_at",
    [
        "after_call:final_bill",
        "after_call:profile",
        "before_call:network",
        "after_call:network",
        "before_call:refund",
        "after_call:refund",
        "after_call:notice",
    ],
)
def test_a_worker_killed_mid_step_is_replaced_and_nothing_happens_twice(
    make_context, crash_at: str
) -> None:
    ctx = make_context(clock=SystemClock())
    cancellation_id, quote = request_and_verify_mts(ctx)
    crashing = start_worker(ctx, crash_at=crash_at)
    assert crashing.wait(timeout=60) == 137, "the worker should have died at the crash point"
    with transaction(ctx.sessions) as session:
        found = session.get(Cancellation, cancellation_id)
        assert found is not None
        assert found.status is CancellationStatus.PROCESSING
    finish_with_fresh_worker(ctx, cancellation_id)
    assert_settled_exactly_once(ctx, cancellation_id, quote["refund"]["amount"])


def test_workers_killed_at_random_moments_still_settle_exactly_once(make_context) -> None:
    ctx = make_context(clock=SystemClock())
    cancellation_id, quote = request_and_verify_mts(ctx)
    for delay in (0.3, 0.5, 0.7, 0.9):
        victim = start_worker(ctx)
        time.sleep(delay)
        victim.kill()
        victim.wait(timeout=30)
    finish_with_fresh_worker(ctx, cancellation_id)
    assert_settled_exactly_once(ctx, cancellation_id, quote["refund"]["amount"])
