"""Report data: each query returns frozen rows that render as a table, a chart or CSV.

Days are UTC calendar days. Rows are grouped in Python after a bounded, indexed SELECT, so
the same code gives the same answer on SQLite and PostgreSQL (no dialect date functions).
``operator_id=None`` is the platform view over every operator; staff always pass their own.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall

# Which external system each step talks to (step failure rates are per system).
STEP_SYSTEM = {
    StepName.FINAL_BILL: "billing",
    StepName.PROFILE: "smdp",
    StepName.NETWORK: "network",
    StepName.REFUND: "payments",
    StepName.NOTICE: "notices",
}


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive


@dataclass(frozen=True)
class CancellationsPerDay:
    day: date
    operator_id: str
    reason: str
    cancellations: int


@dataclass(frozen=True)
class CompletionTime:
    day: date
    completed: int
    median_minutes: float
    p90_minutes: float


@dataclass(frozen=True)
class StepFailureRate:
    system: str
    steps: int
    attempts: int
    failed_attempts: int
    failed_steps: int

    @property
    def failure_rate(self) -> float:
        return self.failed_attempts / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class SmdpLatency:
    day: date
    function: str
    calls: int
    median_ms: float
    p90_ms: float


@dataclass(frozen=True)
class SmdpErrorCount:
    function: str
    outcome: str
    subject_code: str
    reason_code: str
    calls: int


def _tenant(column: Any, operator_id: str | None) -> ColumnElement[bool]:
    return true() if operator_id is None else column == operator_id


def cancellations_per_day(
    session: Session, period: Period, operator_id: str | None = None
) -> list[CancellationsPerDay]:
    """Requests per day, operator and reason (every request, whatever became of it)."""
    query = (
        select(Cancellation.created_at, Cancellation.operator_id, Cancellation.reason).where(
            Cancellation.created_at >= period.start, Cancellation.created_at < period.end
        )
    ).where(_tenant(Cancellation.operator_id, operator_id))
    counts = Counter((at.date(), op, reason) for at, op, reason in session.execute(query))
    return [CancellationsPerDay(*key, n) for key, n in sorted(counts.items())]


def completion_times(
    session: Session, period: Period, operator_id: str | None = None
) -> list[CompletionTime]:
    """From request to completed, by the day of completion: median and 90th percentile."""
    query = (
        select(Cancellation.created_at, Cancellation.completed_at).where(
            Cancellation.status == CancellationStatus.COMPLETED,
            Cancellation.completed_at >= period.start,
            Cancellation.completed_at < period.end,
        )
    ).where(_tenant(Cancellation.operator_id, operator_id))
    minutes: dict[date, list[float]] = defaultdict(list)
    for created, completed in session.execute(query):
        assert completed is not None  # the WHERE asked for a completion time
        minutes[completed.date()].append((completed - created).total_seconds() / 60)
    return [
        CompletionTime(day, len(values), _median(values), _p90(values))
        for day, values in sorted(minutes.items())
    ]


def step_failure_rates(
    session: Session, period: Period, operator_id: str | None = None
) -> list[StepFailureRate]:
    """Per external system: tries of its step, how many failed, and steps that failed for good.

    A done step failed ``attempts - 1`` times; a failed or unfinished one every time.
    """
    query = (
        select(CancellationStep.name, CancellationStep.status, CancellationStep.attempts)
        .join(Cancellation, Cancellation.id == CancellationStep.cancellation_id)
        .where(Cancellation.created_at >= period.start, Cancellation.created_at < period.end)
    ).where(_tenant(Cancellation.operator_id, operator_id))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, status, attempts in session.execute(query):
        if attempts == 0:
            continue  # never ran (yet): neither a success nor a failure
        row = totals[STEP_SYSTEM[name]]
        row[0] += 1
        row[1] += attempts
        row[2] += attempts - 1 if status is StepStatus.DONE else attempts
        row[3] += status is StepStatus.FAILED
    return [StepFailureRate(system, *numbers) for system, numbers in sorted(totals.items())]


def _calls(session: Session, period: Period, operator_id: str | None) -> Iterable[Es2PlusCall]:
    query = (
        select(Es2PlusCall).where(
            Es2PlusCall.sent_at >= period.start,
            Es2PlusCall.sent_at < period.end,
            Es2PlusCall.outcome.is_not(None),
        )
    ).where(_tenant(Es2PlusCall.operator_id, operator_id))
    return session.scalars(query.execution_options(yield_per=1000))


def smdp_latency(
    session: Session, period: Period, operator_id: str | None = None
) -> list[SmdpLatency]:
    """ES2+ call duration per day and function, from the call log (answered calls only)."""
    durations: dict[tuple[date, str], list[float]] = defaultdict(list)
    for call in _calls(session, period, operator_id):
        if call.duration_ms is not None:
            durations[(call.sent_at.date(), call.function.value)].append(call.duration_ms)
    return [
        SmdpLatency(day, function, len(values), _median(values), _p90(values))
        for (day, function), values in sorted(durations.items())
    ]


def smdp_errors(
    session: Session, period: Period, operator_id: str | None = None
) -> list[SmdpErrorCount]:
    """Calls that did not succeed, by function, outcome and ES2+ subject/reason code."""
    counts = Counter(
        (
            call.function.value,
            call.outcome.value if call.outcome else "",
            call.subject_code or "",
            call.reason_code or "",
        )
        for call in _calls(session, period, operator_id)
        if call.outcome is not CallOutcome.SUCCESS
    )
    return [SmdpErrorCount(*key, n) for key, n in sorted(counts.items())]


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def _p90(values: Sequence[float]) -> float:
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=10, method="inclusive")[-1], 1)


def to_csv(row_type: type[Any], rows: Sequence[object]) -> str:
    """Header from the row type's fields (plus ``failure_rate`` where it is defined), so an
    empty report still downloads as a readable file."""
    names = [f.name for f in fields(row_type)]
    derived = ["failure_rate"] if row_type is StepFailureRate else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names + derived)
    for row in rows:
        values: list[Any] = list(astuple(row))  # type: ignore[call-overload]
        if isinstance(row, StepFailureRate):
            values.append(round(row.failure_rate, 4))
        writer.writerow(values)
    return out.getvalue()
