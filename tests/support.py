"""Helpers several test modules share: walking a demo customer through a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, event

from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.customers.service import find_by_login
from esimcare.db import transaction
from esimcare.esims.service import list_esims
from esimcare.integrations.smdp.notification_signature import (
    key_path,
    load_or_create_key,
    signature_headers,
)
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import cancel_as_customer

T = TypeVar("T")


def customer(ctx: Context, operator_id: str, login: str) -> Customer:
    with transaction(ctx.sessions) as session:
        found = find_by_login(session, operator_id, login)
        assert found is not None
        return found


def request_and_verify_mts(ctx: Context, esim_index: int = 0) -> tuple[int, dict[str, Any]]:
    """Anna cancels an mts eSIM with the SMS code; returns the cancellation id and its quote."""
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, "mts", anna.id)[esim_index].esim.id
    cancellation_id, quote = cancel_as_customer(
        ctx, CustomerKey(anna.operator_id, anna.id), esim_id
    )
    return cancellation_id, quote.to_json()


def emulator_signed_headers(
    ctx: Context, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    """What the demo's SM-DP+ emulator sends with a notification: JSON, signed with the
    deployment's emulator key (development mode only), now or ``at``."""
    key = load_or_create_key(key_path(ctx.settings.data_dir))
    signature = signature_headers(key, body, at or ctx.clock.now())
    return {"Content-Type": "application/json", **signature}


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a browser test's Playwright (sync API) keeps an
    event loop running in this worker's main thread for the rest of the session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def sent_statements(
    engine: Engine, starting: tuple[str, ...] = ("",), skipping: tuple[str, ...] = ()
) -> Iterator[list[str]]:
    """The SQL statements sent on ``engine`` inside the block: those that start with one of
    ``starting`` and none of ``skipping``."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(starting) and not statement.startswith(skipping):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def drain_worker(ctx: Context, rounds: int, step: timedelta = timedelta(minutes=10)) -> None:
    """Run a worker until idle ``rounds`` times, the frozen clock moving ``step`` between."""
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(step)
