"""The read-only list of a customer's eSIMs, for the hottest read of the API.

One Core statement built once and compiled once per dialect reads the token's session, its
customer and their eSIMs with plans, run on the driver connection (``db_direct``); rows are
read as plain values: no ORM identity map, no objects to track, nothing written. Balances
come from the ledger in the same statement (``billing.ledger.balance_sums``), one index
lookup per eSIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, select

from esimcare.billing.ledger import Balance, balance_sums
from esimcare.config import Limits
from esimcare.customers.authenticate import (
    CALLER_COLUMNS,
    CALLER_FROM,
    TOKEN_MATCHES,
    Caller,
    caller_from,
    token_parameters,
)
from esimcare.db_direct import DirectRead
from esimcare.errors import AuthenticationError
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.kit.money import Money


@dataclass(frozen=True, slots=True)
class EsimLine:
    id: int
    iccid: str
    msisdn: str
    label: str | None
    status: EsimStatus
    profile_state: ProfileState
    plan_code: str
    plan_names: dict[str, str]
    monthly_fee: Money
    balance: Balance


_ESIMS = Esim.__table__.c
_PLANS = Plan.__table__.c
_CASH, _BONUS = balance_sums(_ESIMS.id)
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
    _CASH.label("cash_minor"),
    _BONUS.label("bonus_minor"),
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
        ).outerjoin(Plan.__table__, _PLANS.id == _ESIMS.plan_id)
    )
    .where(TOKEN_MATCHES)
    .order_by(_ESIMS.id)
)


_LINES_DIRECT = DirectRead(LINES_OF_TOKEN)


def caller_and_lines(
    engine: Engine, operator_id: str, token: str, now: datetime, limits: Limits
) -> tuple[Caller, list[EsimLine]]:
    """The caller behind ``token`` (checked as ``customers.authenticate.caller_from`` checks,
    else AuthenticationError) and their eSIMs of this operator, oldest first, each with its
    plan and balance. One statement on the driver (``db_direct``); writes nothing."""
    rows = _LINES_DIRECT.rows(engine, token_parameters(token))
    if not rows:
        raise AuthenticationError()
    caller = caller_from(rows[0], operator_id, now, limits)
    lines = [_line(*row[_CALLER_WIDTH:]) for row in rows if row[_CALLER_WIDTH] is not None]
    return caller, lines


def _line(
    esim_id: int,
    iccid: str,
    msisdn: str,
    label: str | None,
    status: EsimStatus,
    profile_state: ProfileState,
    plan_code: str,
    plan_names: dict[str, str],
    monthly_fee_minor: int,
    currency: str,
    cash_minor: int,
    bonus_minor: int,
) -> EsimLine:
    """One row, by position in ``_LINE_COLUMNS`` (cheaper than by name, on every read)."""
    return EsimLine(
        id=esim_id,
        iccid=iccid,
        msisdn=msisdn,
        label=label,
        status=status,
        profile_state=profile_state,
        plan_code=plan_code,
        plan_names=plan_names,
        monthly_fee=Money(monthly_fee_minor, currency),
        balance=Balance(Money(int(cash_minor), currency), Money(int(bonus_minor), currency)),
    )
