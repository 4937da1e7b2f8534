"""Which state changes become webhook events, written in the very flush that makes them.

The events are derived from the rows that already record every change, so no door or step can
forget one: a new ``cancellation_transitions`` row (requested, scheduled, completed, failed,
undone), an eSIM order turning ``completed`` (esim.ordered) and the SM-DP+'s notifications
setting ``installed_at`` / ``deleted_on_device_at`` (esim.installed, esim.deleted). Each event
is a ``webhook_deliveries`` row plus its delivery job, added in ``before_flush``, so they
commit or roll back with the change itself (outbox) and are sent only after commit. The ES2+
receiver writes its batches without the ORM and adds the same rows itself
(``es2plus.notification_store``, from ``outbox_rows``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus
from esimcare.esims.models import Esim, EsimOrder, OrderStatus
from esimcare.jobs.models import Job, JobStatus
from esimcare.kit.clock import Clock, iso
from esimcare.webhooks.models import DeliveryStatus, WebhookDelivery

WEBHOOK_JOB = "webhook.deliver"


class EventType(StrEnum):
    CANCELLATION_REQUESTED = "cancellation.requested"
    CANCELLATION_SCHEDULED = "cancellation.scheduled"
    CANCELLATION_COMPLETED = "cancellation.completed"
    CANCELLATION_FAILED = "cancellation.failed"
    CANCELLATION_UNDONE = "cancellation.undone"
    ESIM_ORDERED = "esim.ordered"
    ESIM_INSTALLED = "esim.installed"
    ESIM_DELETED = "esim.deleted"


_BY_CANCELLATION_STATUS = {
    CancellationStatus.AWAITING_VERIFICATION: EventType.CANCELLATION_REQUESTED,
    CancellationStatus.SCHEDULED: EventType.CANCELLATION_SCHEDULED,
    CancellationStatus.COMPLETED: EventType.CANCELLATION_COMPLETED,
    CancellationStatus.FAILED: EventType.CANCELLATION_FAILED,
    CancellationStatus.UNDONE: EventType.CANCELLATION_UNDONE,
}

Subscribed = Callable[[str], bool]
_Event = tuple[str, EventType, dict[str, Any]]


def install_outbox(sessions: sessionmaker[Session], subscribed: Subscribed, clock: Clock) -> None:
    """Write events for operators that ``subscribed`` says have a webhook endpoint."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        with session.no_autoflush:
            found = list(_events(session))
        now = clock.now()
        for operator_id, event_type, data in found:
            if subscribed(operator_id):
                _add(session, operator_id, event_type, data, now)

    event.listen(sessions, "before_flush", before_flush)


def _add(
    session: Session, operator_id: str, event_type: EventType, data: dict[str, Any], now: datetime
) -> None:
    delivery, job = outbox_rows(operator_id, event_type, data, now)
    session.add(WebhookDelivery(**delivery))
    session.add(Job(**job))


def outbox_rows(
    operator_id: str, event_type: EventType, data: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``webhook_deliveries`` row of one event and its delivery job's ``jobs`` row (for
    writers that insert rows without the ORM: the ES2+ receiver's group commit)."""
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": event_type.value,
        "created": iso(now),
        "operator": operator_id,
        "data": data,
    }
    delivery = {
        "event_id": event_id,
        "operator_id": operator_id,
        "event_type": event_type.value,
        "payload": body,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "created_at": now,
    }
    job = {
        "kind": WEBHOOK_JOB,
        "payload": {"event_id": event_id},
        "dedupe_key": f"webhook:{event_id}",
        "status": JobStatus.QUEUED,
        "attempts": 0,
        "run_after": now,
        "created_at": now,
    }
    return delivery, job


def esim_data(iccid: str, msisdn: str, status: str) -> dict[str, Any]:
    """An eSIM as webhook events show it."""
    return {"iccid": iccid, "msisdn": msisdn, "status": status}


def _events(session: Session) -> Iterator[_Event]:
    for row in session.new:
        if isinstance(row, CancellationTransition):
            yield from _cancellation_event(session, row)
    for row in session.dirty:
        if isinstance(row, EsimOrder) and _changed_to(row, "status", OrderStatus.COMPLETED):
            yield row.operator_id, EventType.ESIM_ORDERED, _order_data(row)
        if isinstance(row, Esim):
            if _changed_to_value(row, "installed_at"):
                yield row.operator_id, EventType.ESIM_INSTALLED, _esim_data(row)
            if _changed_to_value(row, "deleted_on_device_at"):
                yield row.operator_id, EventType.ESIM_DELETED, _esim_data(row)


def _cancellation_event(session: Session, transition: CancellationTransition) -> Iterator[_Event]:
    event_type = _BY_CANCELLATION_STATUS.get(transition.to_status)
    is_start = transition.from_status is None
    if event_type is None or (event_type is EventType.CANCELLATION_REQUESTED) != is_start:
        return
    cancellation = session.get(Cancellation, transition.cancellation_id)
    if cancellation is None:
        return
    esim = session.get(Esim, cancellation.esim_id)
    data: dict[str, Any] = {
        "reference": cancellation.reference,
        "status": transition.to_status.value,
        "reason": cancellation.reason,
        "effective_at": iso(cancellation.effective_at),
        "actor_kind": transition.actor.split(":", 1)[0],
        "esim": _esim_data(esim) if esim is not None else None,
    }
    if transition.to_status is CancellationStatus.FAILED:
        data["failure_reason"] = (cancellation.failure_reason or "")[:300]
    yield cancellation.operator_id, event_type, data


def _changed_to(row: object, attribute: str, value: object) -> bool:
    history = inspect(row).attrs[attribute].history
    return bool(history.added) and history.added[0] == value and value not in history.deleted


def _changed_to_value(row: object, attribute: str) -> bool:
    history = inspect(row).attrs[attribute].history
    return bool(history.added) and history.added[0] is not None


def _esim_data(esim: Esim) -> dict[str, Any]:
    return esim_data(esim.iccid, esim.msisdn, esim.status.value)


def _order_data(order: EsimOrder) -> dict[str, Any]:
    return {"iccid": order.iccid, "msisdn": order.msisdn, "order_id": order.id}
