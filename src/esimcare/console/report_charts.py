"""The reports page's charts, built from the report rows (``reports/queries.py``).

Per-day counts get a bar for every day of the range (a quiet day is a zero, not a gap);
times and latencies are drawn only for days that had any, as a line once there are enough
days to make one, else as bars.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from esimcare.console.date_range import DayRange
from esimcare.reports.charts import Chart, Series, bar_chart, line_chart
from esimcare.reports.queries import (
    CancellationsPerDay,
    CompletionTime,
    SmdpErrorCount,
    SmdpLatency,
    StepFailureRate,
)

Gettext = Callable[..., str]
MAX_ERROR_GROUPS = 8
MIN_DAYS_FOR_A_LINE = 3


@dataclass(frozen=True)
class ReportChart:
    """One chart on the page: its SVG (None when there is no data) and its CSV's name."""

    element_id: str
    title: str
    csv_name: str
    svg: str | None


def _day(day: date) -> str:
    return day.strftime("%m-%d")


def _trend(chart: Chart) -> str:
    return line_chart(chart) if len(chart.labels) >= MIN_DAYS_FOR_A_LINE else bar_chart(chart)


def per_day_by(
    rows: Sequence[CancellationsPerDay],
    days: DayRange,
    key: Callable[[CancellationsPerDay], str],
) -> tuple[list[str], list[Series]]:
    """Counts per day for each value of ``key`` (operator or reason), zero on quiet days."""
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[key(row)][row.day] += row.cancellations
    labels = [_day(day) for day in days.days()]
    series = [
        Series(name, [float(per_day[day]) for day in days.days()])
        for name, per_day in sorted(counts.items())
    ]
    return labels, series


def cancellations_chart(
    _: Gettext,
    element_id: str,
    title: str,
    labels: list[str],
    series: list[Series],
) -> ReportChart:
    svg = None
    if series:
        chart = Chart(
            title,
            _("Day (UTC)"),
            _("Cancellations"),
            labels,
            series,
            element_id,
            whole_numbers=True,
        )
        svg = bar_chart(chart)
    return ReportChart(element_id, title, "cancellations-per-day", svg)


def completion_chart(_: Gettext, rows: Sequence[CompletionTime]) -> ReportChart:
    title = _("Time from request to completed")
    svg = None
    if rows:
        labels = [_day(row.day) for row in rows]
        series = [
            Series(_("median"), [row.median_minutes for row in rows]),
            Series(_("90th percentile"), [row.p90_minutes for row in rows]),
        ]
        svg = _trend(Chart(title, _("Day completed (UTC)"), _("Minutes"), labels, series,
                           "completion"))  # fmt: skip
    return ReportChart("completion", title, "completion-times", svg)


def step_failure_chart(_: Gettext, rows: Sequence[StepFailureRate]) -> ReportChart:
    title = _("Step failure rates per external system")
    svg = None
    if rows:
        series = [
            Series(_("% of attempts failed"), [round(100 * r.failure_rate, 1) for r in rows]),
            Series(
                _("% of steps failed for good"),
                [round(100 * r.failed_steps / r.steps, 1) if r.steps else 0.0 for r in rows],
            ),
        ]
        labels = [r.system for r in rows]
        svg = bar_chart(Chart(title, _("External system"), "%", labels, series, "step-failures"))
    return ReportChart("step-failures", title, "step-failures", svg)


def latency_chart(_: Gettext, rows: Sequence[SmdpLatency]) -> ReportChart:
    title = _("SM-DP+ call latency (median)")
    svg = None
    if rows:
        days = sorted({row.day for row in rows})
        by_function: dict[str, dict[date, float]] = defaultdict(dict)
        for row in rows:
            by_function[row.function][row.day] = row.median_ms
        series = [
            Series(function, [values.get(day, 0.0) for day in days])
            for function, values in sorted(by_function.items())
        ]
        chart = Chart(title, _("Day (UTC)"), _("Milliseconds"), [_day(d) for d in days], series,
                      "smdp-latency")  # fmt: skip
        svg = _trend(chart)
    return ReportChart("smdp-latency", title, "smdp-latency", svg)


def error_chart(_: Gettext, rows: Sequence[SmdpErrorCount]) -> ReportChart:
    title = _("SM-DP+ errors by function and code")
    svg = None
    if rows:
        top = sorted(rows, key=lambda row: -row.calls)[:MAX_ERROR_GROUPS]
        labels = [_error_label(row) for row in top]
        series = [Series(_("calls"), [float(row.calls) for row in top])]
        chart = Chart(
            title, _("Function and code"), _("Calls"), labels, series, "smdp-errors", True
        )
        svg = bar_chart(chart)
    return ReportChart("smdp-errors", title, "smdp-errors", svg)


def _error_label(row: SmdpErrorCount) -> str:
    """Short enough to sit under its bar: "CancelOrder 8.1.1/3.9" or "CancelOrder timeout"."""
    function = row.function[0].upper() + row.function[1:]
    if row.subject_code or row.reason_code:
        return f"{function} {row.subject_code}/{row.reason_code}"
    return f"{function} {row.outcome}"
