"""A customer's eSIMs; every query is scoped to the operator and to the customer who owns it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session

from esimcare.billing.ledger import Balance, balances_of
from esimcare.billing.models import LedgerEntry
from esimcare.errors import NotFoundError
from esimcare.esims.models import Esim, Plan
from esimcare.kit.money import Money
from esimcare.kit.orm_rows import table_of


@dataclass(frozen=True)
class EsimView:
    esim: Esim
    plan: Plan
    balance: Balance


def list_esims(session: Session, operator_id: str, customer_id: int) -> list[EsimView]:
    rows = session.execute(
        select(Esim, Plan)
        .join(Plan, Plan.id == Esim.plan_id)
        .where(Esim.operator_id == operator_id, Esim.customer_id == customer_id)
        .order_by(Esim.id)
    ).all()
    balances = balances_of(session, {esim.id: plan.currency for esim, plan in rows})
    return [EsimView(esim, plan, balances[esim.id]) for esim, plan in rows]


_LEDGER = table_of(LedgerEntry).c
# The eSIM's balance (billing.ledger.balance_of) as two columns correlated to the statement's
# eSIM row, so the row and its balance come in one statement.
_BALANCE = (
    select(func.coalesce(func.sum(_LEDGER.cash_minor), 0))
    .where(_LEDGER.esim_id == Esim.id)
    .scalar_subquery(),
    select(func.coalesce(func.sum(_LEDGER.bonus_minor), 0))
    .where(_LEDGER.esim_id == Esim.id)
    .scalar_subquery(),
)
# Another customer's or another operator's eSIM is simply not found (no existence leak).
_OWNED = (
    Esim.id == bindparam("esim_id"),
    Esim.operator_id == bindparam("esim_operator_id"),
    Esim.customer_id == bindparam("esim_customer_id"),
)
VIEW_WIDTH = 2 + len(_BALANCE)


def view_select(*more: ColumnElement[Any]) -> Select[Any]:
    """The customer's eSIM with its plan and balance (the row's first ``VIEW_WIDTH`` values,
    read with ``view_of``), and ``more`` columns after them; bound with ``esim_parameters``."""
    return select(Esim, Plan, *_BALANCE, *more).join(Plan, Plan.id == Esim.plan_id).where(*_OWNED)


def esim_parameters(operator_id: str, customer_id: int, esim_id: int) -> dict[str, Any]:
    return {"esim_id": esim_id, "esim_operator_id": operator_id, "esim_customer_id": customer_id}


def view_of(values: Sequence[Any]) -> EsimView:
    esim, plan, cash, bonus = values[:VIEW_WIDTH]
    currency = plan.currency
    return EsimView(esim, plan, Balance(Money(int(cash), currency), Money(int(bonus), currency)))


_GET_ESIM = view_select()


def get_esim(session: Session, operator_id: str, customer_id: int, esim_id: int) -> EsimView:
    """Another customer's or another operator's eSIM is simply not found (no existence leak)."""
    row = session.execute(_GET_ESIM, esim_parameters(operator_id, customer_id, esim_id)).first()
    if row is None:
        raise NotFoundError("no such eSIM on this account")
    return view_of(row)
