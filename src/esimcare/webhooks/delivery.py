"""Delivering webhook events from the job queue: sign, POST, log the attempt, retry or give up.

Each attempt is logged (status code, latency) in its own commit before the job's fate is
decided, so the log shows every try even when the worker then retries with backoff. A 2xx
finishes the job in the same commit as the delivery's ``delivered`` mark. 5xx, 408, 425, 429
and transport errors are retried by the worker (backoff, then dead); other 4xx are a definite
refusal and the delivery fails at once. ``send_again`` restarts any delivery by hand.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.audit.service import record
from esimcare.cancellations.systems import ServiceSystems
from esimcare.db import transaction
from esimcare.errors import ConflictError, NotFoundError
from esimcare.i18n import N_
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.operators.webhook_target import WebhookTarget
from esimcare.webhooks.events import WEBHOOK_JOB
from esimcare.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from esimcare.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

_RETRYABLE = frozenset({408, 425, 429})


class DeliveryUnderWayError(ConflictError):
    code = "webhook-delivery-under-way"
    title = N_("This event is still being delivered (retrying); wait for it to succeed or fail")


class InsecureWebhookError(ValueError):
    """Production sends signed customer data only over https."""


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        code = self.status_code
        return code is None or code >= 500 or code in _RETRYABLE


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def check_targets(ctx: ServiceSystems) -> None:
    """At start-up: every configured endpoint is well formed, and https in production."""
    for operator_id, policy in ctx.policies.items():
        target = policy.webhook_target
        if target is not None and not target.encrypted and not ctx.settings.development:
            raise InsecureWebhookError(f"{operator_id}: webhooks.url must use https in production")


def deliver_webhook(
    ctx: ServiceSystems, queue: JobQueue, client: httpx.Client, job: ClaimedJob
) -> None:
    event_id = str(job.payload["event_id"])
    with transaction(ctx.sessions) as session:
        delivery = _by_event(session, event_id)
        target = ctx.policy(delivery.operator_id).webhook_target
        if delivery.status is DeliveryStatus.DELIVERED or target is None:
            queue.finish(session, job)
            return
        body = body_of(delivery)
    if not target.encrypted and not ctx.settings.development:
        raise PermanentIntegrationError("webhooks.url is not https", code="insecure-webhook")
    result = _post(client, target, event_id, body, int(ctx.clock.now().timestamp()))
    with transaction(ctx.sessions) as session:
        _log(session, _by_event(session, event_id), result, ctx.clock.now())
        if result.delivered:
            queue.finish(session, job)
            return
    error = f"webhook answered {result.status_code}" if result.status_code else result.error
    if result.retryable:
        raise TransientIntegrationError(error or "webhook failed")
    raise PermanentIntegrationError(error or "webhook refused", code="webhook-refused")


def _post(
    client: httpx.Client, target: WebhookTarget, event_id: str, body: bytes, timestamp: int
) -> AttemptResult:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(target.secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
    }
    started = time.monotonic()
    try:
        response = client.post(target.url, content=body, headers=headers)
    except httpx.TransportError as error:
        return AttemptResult(None, _ms_since(started), f"{type(error).__name__}: {error}"[:500])
    return AttemptResult(response.status_code, _ms_since(started), None)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _log(session: Session, delivery: WebhookDelivery, result: AttemptResult, now: datetime) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code = result.status_code
    if result.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = None
    else:
        delivery.last_error = result.error or f"HTTP {result.status_code}"


def on_dead_webhook(ctx: ServiceSystems, job: ClaimedJob, error: str) -> None:
    """Retries are exhausted or the receiver refused: the delivery is failed, for staff."""
    with transaction(ctx.sessions) as session:
        delivery = _by_event(session, str(job.payload["event_id"]))
        if delivery.status is DeliveryStatus.PENDING:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = error[:2000]


def _by_event(session: Session, event_id: str) -> WebhookDelivery:
    delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
    if delivery is None:
        raise PermanentIntegrationError(f"no webhook delivery {event_id}", code="no-delivery")
    return delivery


def list_deliveries(
    session: Session, operator_id: str, status: DeliveryStatus | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.operator_id == operator_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query))


def attempts_of(session: Session, operator_id: str, delivery_id: int) -> list[WebhookAttempt]:
    delivery = _operators_delivery(session, operator_id, delivery_id)
    return list(
        session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.id)
        )
    )


def send_again(
    session: Session, operator_id: str, delivery_id: int, *, actor: str, why: str, now: datetime
) -> WebhookDelivery:
    """Queue the same event (same id, so receivers can dedupe) for another round of tries."""
    delivery = _operators_delivery(session, operator_id, delivery_id)
    if delivery.status is DeliveryStatus.PENDING:
        raise DeliveryUnderWayError()
    delivery.status = DeliveryStatus.PENDING
    rounds = session.scalar(select(func.count()).where(WebhookAttempt.delivery_id == delivery.id))
    enqueue(
        session,
        kind=WEBHOOK_JOB,
        payload={"event_id": delivery.event_id},
        now=now,
        dedupe_key=f"webhook:{delivery.event_id}:again:{rounds}",
    )
    record(
        session,
        operator_id=operator_id,
        actor=actor,
        action="staff.webhook.send_again",
        subject=f"webhook:{delivery.event_id}",
        at=now,
        data={"why": why, "event_type": delivery.event_type},
    )
    return delivery


def _operators_delivery(session: Session, operator_id: str, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.operator_id != operator_id:
        raise NotFoundError(f"no webhook delivery {delivery_id}")
    return delivery
