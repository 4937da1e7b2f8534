"""PostgreSQL for tests: a fresh schema per test, named in the URL's search_path.

ESIMCARE_TEST_POSTGRES_URL names the server (default: this machine's trust-auth PostgreSQL).
Without a server the PostgreSQL tests are skipped locally and fail in CI (CI=true), so CI
cannot go green by silently testing only SQLite.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("ESIMCARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def whole_suite_on_postgres() -> bool:
    """ESIMCARE_TEST_BACKEND=postgresql runs every deployment-level test on PostgreSQL."""
    return os.environ.get("ESIMCARE_TEST_BACKEND") == "postgresql"


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


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema, dropped afterwards."""
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
