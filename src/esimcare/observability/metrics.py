"""Prometheus metrics, read from the database.

Every process shares one database, so counting rows there gives the same answer whichever
process is scraped, and nothing is lost when a process restarts. The counts are grouped
aggregates over whole tables, so a process computes them at most once every
``MAX_AGE_S`` and answers scrapes in between from memory (``scrape``): scrapers, however many
and however often, do not turn into table scans. The tables that grow with traffic alone (jobs,
the ES2+ call log) are kept to the retention window by pruning (``jobs/pruning.py``).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.billing.models import Refund, RefundStatus
from esimcare.cancellations.models import Cancellation
from esimcare.db import transaction
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.jobs.models import Job

# How stale a scrape's answer may be, in seconds (Prometheus scrapes every 15-60 s).
MAX_AGE_S: Final = 15.0


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    help: str
    samples: tuple[Sample, ...]


def collect(session: Session) -> list[Metric]:
    return [
        _grouped(session, "esimcare_jobs", "Jobs by kind and status.", Job, ("kind", "status")),
        _retries(session),
        _grouped(session, "esimcare_cancellations", "Cancellations by operator and status.",
                 Cancellation, ("operator_id", "status")),
        _grouped(session, "esimcare_es2plus_calls", "ES2+ calls by function and outcome.",
                 Es2PlusCall, ("operator_id", "function", "outcome")),
        _grouped(session, "esimcare_refunds", "Refunds by operator and status.", Refund,
                 ("operator_id", "status")),
        _refunded(session),
    ]  # fmt: skip


def _retries(session: Session) -> Metric:
    rows = session.execute(
        select(Job.kind, func.sum(Job.attempts - 1)).where(Job.attempts > 1).group_by(Job.kind)
    )
    return Metric(
        "esimcare_job_retries",
        "gauge",
        "Attempts beyond the first, summed over jobs by kind (retries and lease takeovers).",
        tuple(Sample({"kind": kind}, float(retries or 0)) for kind, retries in rows),
    )


def _refunded(session: Session) -> Metric:
    rows = session.execute(
        select(Refund.operator_id, Refund.currency, func.sum(Refund.amount_minor))
        .where(Refund.status == RefundStatus.SUCCEEDED)
        .group_by(Refund.operator_id, Refund.currency)
    )
    return Metric(
        "esimcare_refunded_minor_units",
        "gauge",
        "Money refunded, in minor units, by operator and currency.",
        tuple(
            Sample({"operator_id": operator, "currency": currency}, float(total or 0))
            for operator, currency, total in rows
        ),
    )


def _grouped(
    session: Session, name: str, help_text: str, model: type[object], columns: tuple[str, ...]
) -> Metric:
    fields = [getattr(model, column) for column in columns]
    rows = session.execute(select(*fields, func.count()).group_by(*fields))
    samples = tuple(
        Sample({c: _label(v) for c, v in zip(columns, row[:-1], strict=True)}, float(row[-1]))
        for row in rows
    )
    return Metric(name, "gauge", help_text, samples)


def _label(value: object) -> str:
    return "" if value is None else str(getattr(value, "value", value))


def render(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition format, version 0.0.4."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for sample in metric.samples:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sample.labels.items())
            lines.append(f"{metric.name}{{{labels}}} {sample.value:g}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class _Rendered:
    at: float
    body: str


_rendered: weakref.WeakKeyDictionary[Engine, _Rendered] = weakref.WeakKeyDictionary()
_collecting = threading.Lock()


def scrape(readers: sessionmaker[Session], max_age_s: float = MAX_AGE_S) -> str:
    """The exposition text, collected afresh only when the last one is older than
    ``max_age_s``; concurrent scrapes wait for one collection instead of each running it."""
    engine = readers.kw["bind"]
    with _collecting:
        cached = _rendered.get(engine)
        if cached is not None and time.monotonic() - cached.at < max_age_s:
            return cached.body
        with transaction(readers) as session:
            body = render(collect(session))
        _rendered[engine] = _Rendered(time.monotonic(), body)
        return body
