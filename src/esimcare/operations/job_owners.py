"""Which operator a job belongs to. Jobs carry no tenant column; their payload names the row
they work on, and that row names the operator. Unknown kinds belong to nobody (never shown)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.bulk.models import BulkJob
from esimcare.cancellations.models import Cancellation
from esimcare.esims.models import EsimOrder
from esimcare.jobs.models import Job
from esimcare.notices.models import Notice
from esimcare.webhooks.models import WebhookDelivery

_Owner = Callable[[Session, int], str | None]


def _owner(model: type[Cancellation | Notice | EsimOrder | BulkJob]) -> _Owner:
    def operator_of(session: Session, row_id: int) -> str | None:
        found: str | None = session.scalar(select(model.operator_id).where(model.id == row_id))
        return found

    return operator_of


_BY_PAYLOAD_KEY: dict[str, _Owner] = {
    "cancellation_id": _owner(Cancellation),
    "notice_id": _owner(Notice),
    "order_id": _owner(EsimOrder),
    "bulk_job_id": _owner(BulkJob),
}


def _webhook_owner(session: Session, event_id: str) -> str | None:
    found: str | None = session.scalar(
        select(WebhookDelivery.operator_id).where(WebhookDelivery.event_id == event_id)
    )
    return found


def job_operator(session: Session, job: Job) -> str | None:
    named = job.payload.get("operator_id")  # a job of one operator's with no row of its own
    if isinstance(named, str):
        return named
    event_id = job.payload.get("event_id")
    if isinstance(event_id, str):
        return _webhook_owner(session, event_id)
    for key, owner in _BY_PAYLOAD_KEY.items():
        row_id = job.payload.get(key)
        if isinstance(row_id, int):
            return owner(session, row_id)
    return None
