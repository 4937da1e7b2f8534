"""Real databases for integration tests: every test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ESIMCARE_TEST_POSTGRES_URL; each test gets a fresh schema, named in the
URL's search_path, so tests are isolated and ``make_engine(db_url)`` just works. Without a
server the PostgreSQL half is skipped locally and fails in CI (CI=true), so CI cannot go green
by silently testing only SQLite.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import esimcare.models  # noqa: F401 - registers every table on Base.metadata
from esimcare.db import Base, make_engine, session_factory
from esimcare.kit.clock import FrozenClock

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def postgres_admin_url() -> str:
    return os.environ.get("ESIMCARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@cache
def postgres_unreachable_reason() -> str | None:
    """Asked once per run, so a missing server costs one time-out, not one per test."""
    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {postgres_admin_url()} is not reachable: {exc}"


def require_postgres() -> None:
    reason = postgres_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema that is dropped afterwards."""
    require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    admin_url = postgres_admin_url()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(admin_url, schema)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


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
