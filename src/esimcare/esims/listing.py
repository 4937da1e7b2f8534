"""The read-only list of a customer's eSIMs, for the hottest read of the API.

One Core statement built once and compiled once per dialect reads the token's session, its
customer and their eSIMs with plans, run on the driver connection (``db_direct``); rows are
read as plain values: no ORM identity map, no objects to track, nothing written. Balances
come from the ledger in the same statement, joined and grouped by eSIM (one index range per
eSIM).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, select

from esimcare.billing.ledger import BONUS_TOTAL, CASH_TOTAL, LEDGER
from esimcare.config import Limits
from esimcare.customers.authenticate import (
    CALLER_COLUMNS,
    CALLER_FROM,
    TOKEN_MATCHES,
    Caller,
    caller_from,
    token_parameters,
)
from esimcare.db_direct import AsyncReaders, DirectRead
from esimcare.errors import AuthenticationError
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import EsimStatus, ProfileState


class EsimLine(NamedTuple):
    """One eSIM of the list, its fields in the order of ``_LINE_COLUMNS`` (a row's tail
    becomes a line without a call per field, on every read)."""

    id: int
    iccid: str
    msisdn: str
    label: str | None
    status: EsimStatus
    profile_state: ProfileState
    plan_code: str
    plan_names: Mapping[str, str]  # shared between reads (db_direct): read-only
    # Plain minor units in ``currency`` (the plan's and the ledger's): rendered, not computed.
    monthly_fee_minor: int
    currency: str
    cash_minor: int
    bonus_minor: int


_ESIMS = Esim.__table__.c
_PLANS = Plan.__table__.c
_LINE_COLUMNS = (
    _ESIMS.id.label("esim_id"),
    _ESIMS.iccid,
    _ESIMS.msisdn,
    _ESIMS.label,
    _ESIMS.status,
    _ESIMS.profile_state,
    _PLANS.code,
    _PLANS.names,
    _PLANS.monthly_fee_minor,
    _PLANS.currency,
    CASH_TOTAL.label("cash_minor"),
    BONUS_TOTAL.label("bonus_minor"),
)
_CALLER_WIDTH = len(CALLER_COLUMNS)
# The caller and their eSIMs of their operator in ONE statement, built once: one snapshot, one
# round trip. A session without eSIMs still gives one row (the eSIM columns NULL).
LINES_OF_TOKEN = (
    select(*CALLER_COLUMNS, *_LINE_COLUMNS)
    .select_from(
        CALLER_FROM.outerjoin(
            Esim.__table__,
            and_(
                _ESIMS.customer_id == CALLER_COLUMNS[5],
                _ESIMS.operator_id == CALLER_COLUMNS[6],
            ),
        )
        .outerjoin(Plan.__table__, _PLANS.id == _ESIMS.plan_id)
        .outerjoin(LEDGER, LEDGER.c.esim_id == _ESIMS.id)
    )
    .where(TOKEN_MATCHES)
    # Every primary key of the joined rows, so PostgreSQL knows each other column is one value.
    .group_by(CALLER_COLUMNS[0], CALLER_COLUMNS[5], _ESIMS.id, _PLANS.id)
    .order_by(_ESIMS.id)
)


_LINES_DIRECT = DirectRead(
    LINES_OF_TOKEN, shared_prefix=_CALLER_WIDTH, reference_columns=[_PLANS.names.key]
)


def caller_and_lines(
    engine: Engine, operator_id: str, token: str, now: datetime, limits: Limits
) -> tuple[Caller, list[EsimLine]]:
    """The caller behind ``token`` (checked as ``customers.authenticate.caller_from`` checks,
    else AuthenticationError) and their eSIMs of this operator, oldest first, each with its
    plan and balance. One statement on the driver (``db_direct``); writes nothing."""
    rows = _LINES_DIRECT.rows(engine, token_parameters(token))
    return _caller_and_lines(rows, operator_id, now, limits)


async def caller_and_lines_async(
    readers: AsyncReaders, operator_id: str, token: str, now: datetime, limits: Limits
) -> tuple[Caller, list[EsimLine]]:
    """``caller_and_lines`` read on the event loop (PostgreSQL, ``db_direct.AsyncReaders``)."""
    rows = await _LINES_DIRECT.rows_async(readers, token_parameters(token))
    return _caller_and_lines(rows, operator_id, now, limits)


def _caller_and_lines(
    rows: list[tuple[Any, ...]], operator_id: str, now: datetime, limits: Limits
) -> tuple[Caller, list[EsimLine]]:
    if not rows:
        raise AuthenticationError()
    caller = caller_from(rows[0], operator_id, now, limits)
    line = EsimLine._make
    lines = [line(row[_CALLER_WIDTH:]) for row in rows if row[_CALLER_WIDTH] is not None]
    return caller, lines
