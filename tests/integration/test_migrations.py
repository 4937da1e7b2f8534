"""Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import esimcare.models  # noqa: F401 - registers every table
from esimcare.db import Base, make_engine
from esimcare.migrate import alembic_config, upgrade


def test_migrating_an_empty_database_gives_exactly_the_models_schema(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert set(Base.metadata.tables) <= tables


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)


def test_a_migrated_sqlite_database_moves_the_audit_head_by_trigger_and_downgrades_without(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    assert _triggers(url) == {"audit_head_follows_events"}
    command.downgrade(alembic_config(url), "0012")
    assert _triggers(url) == set()


def _triggers(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            return set(connection.execute(query).scalars())
    finally:
        engine.dispose()
