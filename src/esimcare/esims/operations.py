"""Ordering an eSIM, one function for every door (zulip's ``do_*`` actions).

The order itself runs in three phases (esims/ordering.py) so no SM-DP+ call holds a database
transaction; this function adds what the doors would otherwise each write: claiming the
idempotency key, storing the door's answer in the transaction that records the eSIM, and
releasing the key when the order fails so the same key may be retried.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from esimcare.customers.models import Customer
from esimcare.esims.models import Esim
from esimcare.esims.ordering import order_esim
from esimcare.esims.systems import OrderingSystems
from esimcare.idempotency.once import Once, Ran, claim, releasing_on_error
from esimcare.idempotency.service import StoredResponse

DescribeOrder = Callable[[Esim], StoredResponse]


def do_order_esim(
    ctx: OrderingSystems,
    customer: Customer,
    plan_code: str,
    eid: str | None,
    *,
    once: Once | None,
    describe: DescribeOrder,
) -> Ran[Esim]:
    """Order at most once per key; a repeat gets the first order's answer back."""
    stored = claim(once)
    if stored is not None:
        return Ran(stored)
    answers: list[StoredResponse] = []

    def finish(session: Session, esim: Esim) -> None:
        answers.append(describe(esim))
        if once is not None:
            once.finish(session, answers[0])

    with releasing_on_error(once):
        esim = order_esim(ctx, customer, plan_code, eid, finish)
    return Ran(answers[0], esim)
