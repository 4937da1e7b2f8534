"""Bulk cancellation: a dry run per line, then a throttled job through the ordinary workflow."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from esimcare.audit.models import AuditEvent
from esimcare.bulk.service import (
    BulkRequest,
    Progress,
    confirm,
    dry_run,
    progress,
    read_lines,
    result_csv,
)
from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import InvalidInputError, NotFoundError
from esimcare.esims.models import Esim
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Iccid
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import seed_cancellable
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SUPERVISOR = "staff:11"
ANNA_MAIN = Iccid.from_body("897010100000000001").value
LI_WEI = Iccid.from_body("897019900000000001").value


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    built: Context = make_context(database_url=db_url, clock=clock)
    return built


def count(ctx: Context, model: type[Cancellation | AuditEvent]) -> int:
    with transaction(ctx.sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def iccids(ctx: Context, esim_ids: list[int]) -> list[str]:
    with transaction(ctx.sessions) as session:
        rows = session.scalars(select(Esim.iccid).where(Esim.id.in_(esim_ids)).order_by(Esim.id))
        return list(rows)


def test_the_csv_header_is_optional() -> None:
    assert read_lines(f"iccid\n{ANNA_MAIN}\n\n 9160000002 \n") == [
        ANNA_MAIN,
        "9160000002",
    ]
    assert read_lines("8970101000000000001;x\n") == ["8970101000000000001;x"]
    with pytest.raises(InvalidInputError):
        read_lines("1\n" * 10_001)


def test_a_dry_run_quotes_each_line_or_says_why_not_and_changes_nothing(ctx: Context) -> None:
    request_and_verify_mts(ctx, esim_index=1)  # the travel eSIM now has an open cancellation
    before = (count(ctx, Cancellation), count(ctx, AuditEvent))
    lines = [ANNA_MAIN, "9160000002", LI_WEI, "hello", ANNA_MAIN, "+79169999999"]
    with transaction(ctx.sessions) as session:
        verdicts = dry_run(session, ctx, "mts", lines, "not_needed")
    assert [(v.line_no, v.refusal) for v in verdicts] == [
        (1, None),
        (2, "cancellation-in-progress"),
        (3, "not-found"),  # another operator's eSIM is just "not found"
        (4, "not-found"),
        (5, "duplicate"),
        (6, "not-found"),
    ]
    quote = verdicts[0].quote
    assert quote is not None and quote["refund"]["amount"] == "1167.50"
    assert (count(ctx, Cancellation), count(ctx, AuditEvent)) == before


def test_a_confirmed_bulk_job_starts_a_few_lines_a_second_and_completes_them_all(
    ctx: Context,
) -> None:
    seeded = seed_cancellable(ctx, 12)
    values = [*iccids(ctx, [s.esim_id for s in seeded]), LI_WEI]
    request = BulkRequest("mts", "not_needed", SUPERVISOR, per_second=5)
    with transaction(ctx.sessions) as session:
        bulk_id = confirm(session, ctx, request, values).id
    assert seen_progress(ctx, bulk_id) == Progress(bulk_id, 13, 0, 1, False)
    worker = build_worker(ctx, name="bulk-worker")
    worker.run_until_idle()
    assert seen_progress(ctx, bulk_id).done == 5  # the next five wait a second: throttled
    marks = []
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(4):
        clock.advance(timedelta(seconds=1))
        worker.run_until_idle()
        marks.append(seen_progress(ctx, bulk_id).processed)
    assert marks[:2] == [11, 13]
    assert seen_progress(ctx, bulk_id) == Progress(bulk_id, 13, 12, 1, True)
    for _ in range(6):
        clock.advance(timedelta(minutes=10))
        worker.run_until_idle()
    rows = list(csv.DictReader(io.StringIO(result_of(ctx, bulk_id))))
    assert [r["outcome"] for r in rows] == ["started"] * 12 + ["failed"]
    assert {r["cancellation_status"] for r in rows[:12]} == {"completed"}
    assert rows[12]["reason"] == "not-found" and rows[12]["reference"] == ""
    assert_started_by_the_supervisor(ctx, rows[0]["reference"])


def seen_progress(ctx: Context, bulk_id: int) -> Progress:
    with transaction(ctx.sessions) as session:
        return progress(session, "mts", bulk_id)


def result_of(ctx: Context, bulk_id: int) -> str:
    with transaction(ctx.sessions) as session:
        return result_csv(session, "mts", bulk_id)


def assert_started_by_the_supervisor(ctx: Context, reference: str) -> None:
    with transaction(ctx.sessions) as session:
        cancellation = session.scalar(
            select(Cancellation).where(Cancellation.reference == reference)
        )
        assert cancellation is not None
        assert cancellation.verification_method == "bulk_supervisor"
        notes = session.execute(
            select(CancellationTransition.actor, CancellationTransition.note).where(
                CancellationTransition.cancellation_id == cancellation.id,
                CancellationTransition.to_status == CancellationStatus.SCHEDULED,
            )
        ).one()
        confirmed = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "staff.bulk.confirmed")
        )
    assert notes[0] == SUPERVISOR and f"bulk by supervisor {SUPERVISOR}" in (notes[1] or "")
    assert confirmed is not None and confirmed.actor == SUPERVISOR


def test_a_line_whose_esim_changed_since_the_dry_run_fails_alone(ctx: Context) -> None:
    seeded = seed_cancellable(ctx, 2)
    values = iccids(ctx, [s.esim_id for s in seeded])
    with transaction(ctx.sessions) as session:
        bulk_id = confirm(session, ctx, BulkRequest("mts", "not_needed", SUPERVISOR), values).id
    with transaction(ctx.sessions) as session:
        esim = session.scalar(select(Esim).where(Esim.iccid == values[0]))
        assert esim is not None
        esim.status = esim.status.CANCELLED  # cancelled some other way meanwhile
    build_worker(ctx, name="bulk-worker").run_until_idle()
    rows = list(csv.DictReader(io.StringIO(result_of(ctx, bulk_id))))
    assert [(r["outcome"], r["reason"]) for r in rows] == [
        ("failed", "already-cancelled"),
        ("started", ""),
    ]


def test_another_operator_cannot_read_the_bulk_job(ctx: Context) -> None:
    with transaction(ctx.sessions) as session:
        bulk_id = confirm(session, ctx, BulkRequest("mts", "other", SUPERVISOR), [ANNA_MAIN]).id
    with pytest.raises(NotFoundError), transaction(ctx.sessions) as session:
        progress(session, "beeline", bulk_id)
    with pytest.raises(NotFoundError), transaction(ctx.sessions) as session:
        result_csv(session, "beeline", bulk_id)
