"""Direct reads (``db_direct``): the same rows as SQLAlchemy, on both databases, and event-loop
connections on PostgreSQL that survive a server dropping them and a read cancelled half-way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select

from esimcare.customers.authenticate import token_parameters
from esimcare.customers.models import Customer
from esimcare.customers.sessions import open_session
from esimcare.db import make_engine, transaction
from esimcare.db_direct import AsyncReaders, DirectRead
from esimcare.esims.listing import LINES_OF_TOKEN
from tests.conftest import MakeContext
from tests.postgres import postgres_admin_url
from tests.support import run_in_own_loop


def test_a_direct_read_gives_the_rows_sqlalchemy_gives(
    make_context: MakeContext, db_url: str
) -> None:
    ctx = make_context(database_url=db_url)
    with transaction(ctx.sessions) as session:
        customers = session.scalars(select(Customer)).all()
        tokens = [
            open_session(session, c, ctx.clock.now(), ctx.settings.limits).token for c in customers
        ]
    direct = DirectRead(LINES_OF_TOKEN, shared_prefix=7, reference_columns=["names"])
    for token in [*tokens, "not-a-token"]:
        with ctx.engine.connect() as connection:
            expected = [
                tuple(row) for row in connection.execute(LINES_OF_TOKEN, token_parameters(token))
            ]
        found = direct.rows(ctx.engine, token_parameters(token))
        assert found == expected
        for row, wanted in zip(found, expected, strict=True):
            # Converted as SQLAlchemy converts: aware datetimes, enums, JSON.
            assert [type(value) for value in row] == [type(value) for value in wanted]


def test_a_parameter_that_needs_bind_processing_is_refused(engine: Engine) -> None:
    since = select(Customer.id).where(Customer.created_at > datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(TypeError, match="bind processing"):
        DirectRead(since).rows(engine, {})


@pytest.mark.postgres
def test_event_loop_readers_replace_connections_the_server_dropped(
    postgres_schema_url: str,
) -> None:
    engine = make_engine(postgres_schema_url)

    async def scenario() -> list[int]:
        readers = AsyncReaders(engine, 2)
        await readers.open()
        try:
            # Both connections at once (each sleeps), so both of their backends are known.
            pids = await asyncio.gather(
                *(readers.fetch("SELECT pg_backend_pid(), pg_sleep(0.2)", ()) for _ in range(2))
            )
            doomed = [row[0][0] for row in pids]
            with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
                for pid in doomed:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            after = [await readers.fetch("SELECT pg_backend_pid()", ()) for _ in range(3)]
            return [*doomed, *(rows[0][0] for rows in after)]
        finally:
            await readers.close()

    try:
        pids = run_in_own_loop(scenario())
    finally:
        engine.dispose()
    doomed, served_by = set(pids[:2]), set(pids[2:])
    assert len(doomed) == 2
    assert served_by and not served_by & doomed


@pytest.mark.postgres
def test_a_read_cancelled_half_way_gives_its_connection_to_nobody(
    postgres_schema_url: str,
) -> None:
    engine = make_engine(postgres_schema_url)

    async def scenario() -> list[Any]:
        readers = AsyncReaders(engine, 1)
        await readers.open()
        try:
            slow = asyncio.ensure_future(readers.fetch("SELECT pg_sleep(30)", ()))
            await asyncio.sleep(0.3)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            # The only slot is free again and its connection answers this read, not the
            # sleep: within seconds, not after 30.
            rows = await asyncio.wait_for(readers.fetch("SELECT 'next read'", ()), 5)
            return [rows[0][0]]
        finally:
            await readers.close()

    try:
        assert run_in_own_loop(scenario()) == ["next read"]
    finally:
        engine.dispose()
