"""What the first transaction of a cancellation's workflow reads, in one query, and the
transactions after it carry on with (``workflow.py`` says why they may)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from esimcare.billing.final_bill import (
    USAGE,
    balance_columns,
    billed_to,
    final_bill_reads,
    unbilled,
)
from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.states import StepName, StepStatus
from esimcare.cancellations.steps import Carried
from esimcare.customers.models import Customer
from esimcare.esims.models import Esim, Plan


@dataclass
class Loaded:
    """What the first transaction of the workflow reads, in one query, and the transactions
    after it carry on with. Attached to each transaction's session (``attach``), the rows
    are in its identity map, so the steps' own ``session.get`` of the eSIM or the plan costs
    no query, and what they change is flushed as usual."""

    cancellation: Cancellation
    esim: Esim
    plan: Plan
    open_steps: list[CancellationStep]  # not done yet, in order: the first is the current one
    # What the steps of this run learn for the ones after (the customer from this load).
    carried: Carried
    # Step rows changed in this transaction, written together by ``write_steps``.
    changed: dict[int, CancellationStep] = field(default_factory=dict)

    def attach(self, session: Session) -> None:
        session.add_all([self.cancellation, self.esim, self.plan])
        if self.carried.customer is not None:
            session.add(self.carried.customer)

    def change(self, step: CancellationStep, **values: Any) -> None:
        """Change a step row in memory only (no ORM flush: each row's changed columns differ,
        so the ORM would send one UPDATE per row); ``write_steps`` sends them."""
        for name, value in values.items():
            set_committed_value(step, name, value)
        self.changed[step.id] = step

    def write_steps(self, session: Session) -> None:
        """Every changed step row, whole, in one executemany UPDATE; the steps done since
        leave ``open_steps``."""
        if self.changed:
            rows = [
                {"step_id": step.id} | {column: getattr(step, column) for column in _STEP_COLUMNS}
                for step in self.changed.values()
            ]
            session.execute(_WRITE_STEP, rows)
            self.changed.clear()
        self.open_steps = [step for step in self.open_steps if step.status is not StepStatus.DONE]


_STEP_COLUMNS = (
    "status",
    "attempts",
    "outcome",
    "last_error",
    "external_answer",
    "started_at",
    "finished_at",
)
_STEPS = cast(Table, CancellationStep.__table__)
_WRITE_STEP = update(_STEPS).where(_STEPS.c.id == bindparam("step_id"))  # sets the row's columns
# The cancellation, its eSIM, plan and customer and its open steps, in one query (a row per
# open step; one with no step when all are done). With the final bill's step open, its row
# also carries what the bill reads (the balance and, a row each, the unbilled usage records),
# which that step, run in this very transaction, takes instead of reading them again.
_BILL_STEP_ROW = CancellationStep.name == StepName.FINAL_BILL
_ESIM_ID = Esim.id.expression
_BALANCE_CASH, _BALANCE_BONUS = balance_columns(_ESIM_ID, when=_BILL_STEP_ROW)
_LOAD = (
    select(
        Cancellation,
        Esim,
        Plan,
        CancellationStep,
        Customer,
        _BALANCE_CASH.label("balance_cash"),
        _BALANCE_BONUS.label("balance_bonus"),
        USAGE.c.id.label("usage_id"),
        USAGE.c.amount_minor.label("usage_minor"),
    )
    .join(Esim, Esim.id == Cancellation.esim_id)
    .join(Plan, Plan.id == Esim.plan_id)
    .outerjoin(Customer, Customer.id == Cancellation.customer_id)
    .outerjoin(
        CancellationStep,
        and_(
            CancellationStep.cancellation_id == Cancellation.id,
            CancellationStep.status != StepStatus.DONE,
        ),
    )
    .outerjoin(
        USAGE,
        and_(
            _BILL_STEP_ROW,
            unbilled(
                _ESIM_ID,
                billed_to(Cancellation.effective_at.expression, Esim.billed_until.expression),
            ),
        ),
    )
    .where(Cancellation.id == bindparam("cancellation_id"))
    .order_by(CancellationStep.position, USAGE.c.id)
)


def load(session: Session, cancellation_id: int) -> Loaded | None:
    """The cancellation with all ``Loaded`` holds; None when there is no such cancellation."""
    rows = session.execute(_LOAD, {"cancellation_id": cancellation_id}).all()
    if not rows:
        return None
    cancellation, esim, plan, _, customer = rows[0][:5]
    # The final bill's step comes once per usage record: each step once, in order.
    open_steps = list(dict.fromkeys(row[3] for row in rows if row[3] is not None))
    carried = Carried(customer=customer)
    if open_steps and open_steps[0].name is StepName.FINAL_BILL:
        first = rows[0]
        usage = [(row.usage_id, row.usage_minor) for row in rows if row.usage_id is not None]
        carried.bill_reads = final_bill_reads(
            esim, plan, cancellation.effective_at, (first.balance_cash, first.balance_bonus),
            usage,
        )  # fmt: skip
    return Loaded(cancellation, esim, plan, open_steps, carried)
