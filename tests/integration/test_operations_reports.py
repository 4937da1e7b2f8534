"""Report data from real cancellations and ES2+ calls; each report downloads as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from esimcare.context import Context
from esimcare.db import transaction
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.interface import ExecutionStatus
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.kit.clock import FrozenClock
from esimcare.reports.charts import Chart, Series, bar_chart
from esimcare.reports.queries import (
    CancellationsPerDay,
    Period,
    StepFailureRate,
    cancellations_per_day,
    completion_times,
    smdp_errors,
    smdp_latency,
    step_failure_rates,
    to_csv,
)
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from tests.conftest import DEMO_START
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

WEEK = Period(DEMO_START - timedelta(days=1), DEMO_START + timedelta(days=6))


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    built: Context = make_context(database_url=db_url, clock=clock)
    smdp = built.smdp_for("mts")
    assert isinstance(smdp, SmdpEmulator)
    smdp.fail_next(2)  # the profile step fails twice before it goes through
    request_and_verify_mts(built, esim_index=1)
    worker = build_worker(built, name="test-worker")
    for _ in range(8):
        worker.run_until_idle()
        clock.advance(timedelta(minutes=10))
    return built


def test_cancellations_per_day_by_operator_and_reason(ctx: Context) -> None:
    with transaction(ctx.sessions) as session:
        rows = cancellations_per_day(session, WEEK, "mts")
        assert cancellations_per_day(session, WEEK, "beeline") == []
    assert rows == [CancellationsPerDay(DEMO_START.date(), "mts", "not_needed", 1)]
    parsed = list(csv.DictReader(io.StringIO(to_csv(CancellationsPerDay, rows))))
    assert parsed == [
        {"day": "2026-11-23", "operator_id": "mts", "reason": "not_needed", "cancellations": "1"}
    ]


def test_completion_time_and_step_failure_rates(ctx: Context) -> None:
    with transaction(ctx.sessions) as session:
        [times] = completion_times(session, WEEK, "mts")
        rates = {row.system: row for row in step_failure_rates(session, WEEK, "mts")}
    assert times.completed == 1 and times.median_minutes == times.p90_minutes > 0
    smdp = rates["smdp"]
    assert (smdp.steps, smdp.attempts, smdp.failed_attempts) == (1, 3, 2)
    assert smdp.failure_rate == pytest.approx(2 / 3)
    assert rates["network"].failed_attempts == 0
    header = to_csv(StepFailureRate, []).strip()
    assert header == "system,steps,attempts,failed_attempts,failed_steps,failure_rate"


def log_call(
    ctx: Context, operator_id: str, outcome: CallOutcome, ms: int, codes: tuple[str, str] | None
) -> None:
    """One ES2+ call log row as the real client writes it (the emulator keeps its own log)."""
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        session.add(
            Es2PlusCall(
                operator_id=operator_id,
                function=SmdpFunction.CANCEL_ORDER,
                function_call_id=f"call-{outcome.value}-{ms}-{operator_id}",
                request={},
                sent_at=now,
                finished_at=now + timedelta(milliseconds=ms),
                outcome=outcome,
                status=ExecutionStatus.FAILED if codes else None,
                subject_code=codes[0] if codes else None,
                reason_code=codes[1] if codes else None,
                duration_ms=ms,
            )
        )


def test_smdp_latency_and_error_codes_from_the_call_log(ctx: Context) -> None:
    for ms in (100, 200, 300, 400):
        log_call(ctx, "mts", CallOutcome.SUCCESS, ms, None)
    log_call(ctx, "mts", CallOutcome.TRANSIENT, 5000, None)
    log_call(ctx, "mts", CallOutcome.FAILED, 50, ("8.2.1", "3.9"))
    log_call(ctx, "mts", CallOutcome.FAILED, 60, ("8.2.1", "3.9"))
    log_call(ctx, "beeline", CallOutcome.FAILED, 70, ("8.1", "1.2"))
    with transaction(ctx.sessions) as session:
        [latency] = smdp_latency(session, WEEK, "mts")
        errors = smdp_errors(session, WEEK, "mts")
        assert smdp_latency(session, WEEK, "megafon") == []
    assert (latency.function, latency.calls, latency.median_ms) == ("CancelOrder", 7, 200)
    assert latency.p90_ms == pytest.approx(2240.0)
    assert [(e.outcome, e.subject_code, e.reason_code, e.calls) for e in errors] == [
        ("failed", "8.2.1", "3.9", 2),
        ("transient", "", "", 1),
    ]


def test_a_report_renders_as_a_chart(ctx: Context) -> None:
    with transaction(ctx.sessions) as session:
        rows = cancellations_per_day(session, WEEK, "mts")
    chart = Chart(
        "Cancellations per day",
        "Day",
        "Cancellations",
        [row.day.isoformat() for row in rows],
        [Series("mts", [row.cancellations for row in rows])],
    )
    assert "mts: 2026-11-23 1" in bar_chart(chart)
