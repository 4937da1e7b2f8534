"""The direct writes' faster datetime binding stores exactly what ``UtcDateTime`` stores on
SQLite through SQLAlchemy, for any aware moment; naive ones are refused by both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from esimcare.db import UtcDateTime, utc_as_sqlite_text

_DIALECT = sqlite.dialect()
_SQLALCHEMY = UtcDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
# Naive on purpose: hypothesis bounds are naive, and naive moments must be refused.
_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC).replace(tzinfo=None)
_NAIVE = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).replace(tzinfo=None)
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(min_value=_EARLIEST, timezones=_OFFSETS))
def test_the_same_text_as_sqlalchemys_bind_processing(moment: datetime) -> None:
    assert _SQLALCHEMY is not None
    assert utc_as_sqlite_text(moment) == _SQLALCHEMY(moment)


def test_none_and_naive() -> None:
    assert _SQLALCHEMY is not None
    assert utc_as_sqlite_text(None) is None is _SQLALCHEMY(None)
    with pytest.raises(ValueError, match="naive"):
        utc_as_sqlite_text(_NAIVE)
    with pytest.raises(ValueError, match="naive"):
        _SQLALCHEMY(_NAIVE)
