"""Orders a crash left half-made: after a deadline a job finds an order still pending, marks it
failed and cancels its profile at the SM-DP+ (CancelOrder, back to stock), so no profile stays
allocated to nobody (issue 3). The order's reserved number is never reused either way."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from esimcare.db import transaction
from esimcare.errors import ConflictError
from esimcare.esims.models import EsimOrder, OrderStatus
from esimcare.esims.systems import OrderingSystems
from esimcare.i18n import N_
from esimcare.integrations.smdp.interface import FinalProfileStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue

RECONCILE_JOB = "esim.order.reconcile"
# Far longer than an order takes (two SM-DP+ calls with their time-outs).
ORDER_DEADLINE = timedelta(minutes=10)


class OrderAbandonedError(ConflictError):
    code = "order-abandoned"
    title = N_("This order took too long and was cancelled; please order again")


def reconcile_later(session: Session, order: EsimOrder, now: datetime) -> None:
    session.flush()
    enqueue(
        session,
        kind=RECONCILE_JOB,
        payload={"order_id": order.id},
        now=now,
        run_after=now + ORDER_DEADLINE,
        dedupe_key=f"order:{order.id}:reconcile",
    )


def reconcile_order(ctx: OrderingSystems, queue: JobQueue, job: ClaimedJob) -> None:
    with transaction(ctx.sessions) as session:
        order = session.get(EsimOrder, job.payload["order_id"], with_for_update=True)
        if order is None or _settled(order):
            queue.finish(session, job)
            return
        if order.status is OrderStatus.PENDING:
            order.status = OrderStatus.FAILED
            order.failure = "abandoned: the ordering request never finished"
            order.finished_at = ctx.clock.now()
        operator_id, iccid = order.operator_id, order.iccid
        eid, matching_id = order.eid, order.matching_id
    cleanup = "nothing allocated"
    if iccid is not None:
        cleanup = _cancel(ctx, operator_id, iccid, eid, matching_id)
    with transaction(ctx.sessions) as session:
        order = session.get(EsimOrder, job.payload["order_id"])
        assert order is not None
        order.cleanup = cleanup
        queue.finish(session, job)


def _settled(order: EsimOrder) -> bool:
    """Completed, or failed with its clean-up already done (by the request or a first run)."""
    return order.status is OrderStatus.COMPLETED or (
        order.status is OrderStatus.FAILED and order.cleanup is not None
    )


def _cancel(
    ctx: OrderingSystems, operator_id: str, iccid: str, eid: str | None, matching_id: str
) -> str:
    # A transport error propagates: the job queue retries with backoff, since the profile must
    # not stay allocated.
    outcome = ctx.smdp_for(operator_id).cancel_order(
        iccid=iccid, final_status=FinalProfileStatus.AVAILABLE, eid=eid, matching_id=matching_id
    )
    return "cancelled" if outcome.succeeded else f"CancelOrder refused: {outcome.code}"[:500]
