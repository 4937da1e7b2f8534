"""Migrations 0014 (the awaiting cancellations' index) and 0015 (refunds paid in one part)
upgrade and downgrade on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from esimcare.db import make_engine
from esimcare.migrate import alembic_config, upgrade


def _schema(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            indexes = {index["name"] or "" for index in found.get_indexes("cancellations")}
            columns = {column["name"] for column in found.get_columns("refunds")}
    finally:
        engine.dispose()
    return indexes, columns


def test_0014_and_0015_upgrade_downgrade_and_upgrade_again(db_url: str) -> None:
    upgrade(db_url)
    indexes, columns = _schema(db_url)
    assert "ix_cancellations_awaiting_by_age" in indexes
    assert {"parts_planned", "provider_payment_id"} <= columns
    command.downgrade(alembic_config(db_url), "0013")
    indexes, columns = _schema(db_url)
    assert "ix_cancellations_awaiting_by_age" not in indexes
    assert not {"parts_planned", "provider_payment_id"} & columns
    upgrade(db_url)
    indexes, columns = _schema(db_url)
    assert "ix_cancellations_awaiting_by_age" in indexes
    assert {"parts_planned", "provider_payment_id"} <= columns
