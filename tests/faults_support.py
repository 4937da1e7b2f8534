"""Helpers for the fault tests: cancellations requested in bulk, worker processes started and
killed, and the exactly-once checks that every fault test ends with."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from esimcare.billing.models import Bill, EntryKind, LedgerEntry, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.sandbox.payout_ledger import PayoutLedger
from esimcare.sandbox.seeding import Cancellable, cancel_as_customer
from esimcare.sandbox.stand_ins import stand_ins_of


def request_and_verify(ctx: Context, target: Cancellable) -> int:
    return cancel_as_customer(ctx, target.customer, target.esim_id)[0]


def start_worker(ctx: Context, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMCARE_")}
    env.update(
        ESIMCARE_DATA_DIR=str(ctx.settings.data_dir),
        ESIMCARE_DATABASE_URL=ctx.settings.database_url,
        ESIMCARE_MODE="development",
        ESIMCARE_JOB_LEASE_S="1",
        ESIMCARE_JOB_POLL_S="0.05",
        ESIMCARE_JOB_BACKOFF_BASE_S="0.1",
    )
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "esimcare.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until_started(log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while b"worker.started" not in log.read_bytes():
        assert time.monotonic() < deadline, "a worker did not start in time"
        time.sleep(0.05)


def count_completed(ctx: Context, ids: list[int]) -> int:
    with transaction(ctx.sessions) as session:
        found = session.scalar(
            select(func.count())
            .select_from(Cancellation)
            .where(Cancellation.id.in_(ids), Cancellation.status == CancellationStatus.COMPLETED)
        )
    return int(found or 0)


def assert_each_settled_exactly_once(ctx: Context, ids: list[int]) -> None:
    with transaction(ctx.sessions) as session:
        statuses = Counter(
            session.scalars(select(Cancellation.status).where(Cancellation.id.in_(ids)))
        )
        bills = Counter(
            session.scalars(select(Bill.cancellation_id).where(Bill.cancellation_id.in_(ids)))
        )
        refunds = list(session.scalars(select(Refund).where(Refund.cancellation_id.in_(ids))))
        esim_ids = [r.esim_id for r in refunds]
        refund_entries = Counter(
            session.scalars(
                select(LedgerEntry.esim_id).where(
                    LedgerEntry.esim_id.in_(esim_ids), LedgerEntry.kind == EntryKind.REFUND
                )
            )
        )
    payouts = Counter(
        p.idempotency_key for p in PayoutLedger(stand_ins_of(ctx).store, ctx.clock).payouts()
    )
    assert statuses == {CancellationStatus.COMPLETED: len(ids)}
    assert sorted(bills) == sorted(ids) and set(bills.values()) == {1}
    assert sorted(r.cancellation_id for r in refunds) == sorted(ids)
    assert all(refund_entries[esim_id] == 1 for esim_id in esim_ids)
    assert all(payouts[r.idempotency_key] == 1 for r in refunds)
