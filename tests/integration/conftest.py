"""Real databases for integration tests: every test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ESIMCARE_TEST_POSTGRES_URL; each test gets a fresh schema, named in the
URL's search_path, so tests are isolated and ``make_engine(db_url)`` just works. Without a
server the PostgreSQL half is skipped locally and fails in CI (CI=true), so CI cannot go green
by silently testing only SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import esimcare.models  # noqa: F401 - registers every table on Base.metadata
from esimcare.db import Base, make_engine, session_factory
from esimcare.kit.clock import FrozenClock
from tests.postgres import fresh_schema

TEST_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema that is dropped afterwards."""
    with fresh_schema() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind; the URL is ready for esimcare.db.make_engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'esimcare.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with every table created."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        # Close pooled connections before the schema (or file) goes away.
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(TEST_START)
