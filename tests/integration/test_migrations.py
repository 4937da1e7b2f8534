"""Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import esimcare.models  # noqa: F401 - registers every table
from esimcare.db import Base, make_engine
from esimcare.migrate import upgrade


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
