"""Date ranges typed into console filters: whole UTC days, from and to inclusive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from esimcare.errors import InvalidInputError
from esimcare.portal.i18n import N_

BAD_DATE = N_("Dates are written as YYYY-MM-DD.")
BAD_RANGE = N_("The first day must not be after the last one, and a range is at most 92 days.")
MAX_DAYS = 92


class DateRangeError(InvalidInputError):
    code = "bad-date-range"
    title = N_("Invalid date range")


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date  # inclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def parse_day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise DateRangeError(BAD_DATE) from None


def day_range(first: str, last: str, *, today: date, default_days: int) -> DayRange:
    """The typed range; a missing end is today, a missing start ``default_days`` before it."""
    end = parse_day(last) or today
    start = parse_day(first) or end - timedelta(days=default_days - 1)
    if start > end or (end - start).days >= MAX_DAYS:
        raise DateRangeError(BAD_RANGE)
    return DayRange(start, end)


def optional_range(first: str, last: str) -> tuple[datetime | None, datetime | None]:
    """For filters that may be open at either end (the audit log)."""
    start, end = parse_day(first), parse_day(last)
    if start is not None and end is not None and start > end:
        raise DateRangeError(BAD_RANGE)
    return (
        datetime.combine(start, time(), tzinfo=UTC) if start else None,
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC) if end else None,
    )
