"""A customer's eSIMs; every query is scoped to the operator and to the customer who owns it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.billing.ledger import Balance, balance_of, balances_of
from esimcare.errors import NotFoundError
from esimcare.esims.models import Esim, Plan


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


def get_esim(session: Session, operator_id: str, customer_id: int, esim_id: int) -> EsimView:
    """Another customer's or another operator's eSIM is simply not found (no existence leak)."""
    row = session.execute(
        select(Esim, Plan)
        .join(Plan, Plan.id == Esim.plan_id)
        .where(Esim.id == esim_id, Esim.operator_id == operator_id, Esim.customer_id == customer_id)
    ).first()
    if row is None:
        raise NotFoundError("no such eSIM on this account")
    esim, plan = row
    return EsimView(esim, plan, balance_of(session, esim.id, plan.currency))
