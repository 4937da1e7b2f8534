"""What an SM-DP+ notification does to our eSIM (SGP.22 v2.2 5.3.5, HandleDownloadProgressInfo).

``record_notification`` runs in the receiving request's transaction, after the receiver has
proven the sender (``es2plus.sender_auth``): it stores the notification once (a second
delivery finds its dedupe key taken and changes nothing), moves the eSIM's ``profile_state``
forwards by ``esims.states.PROFILE_EVENT_TRANSITIONS`` and appends an audit event. An ICCID we
do not know is recorded and answered like any other: the SM-DP+ must not retry forever because
of our inventory.

The notification's ``timestamp`` is the SM-DP+'s claim: it is stored (``notified_at``) and
used to tell deliveries apart, but every rule uses the time we received it (``installed_at``
starts the eSIM-swap window of ``cancellations/verification_methods.py``). A claim more than
``MAX_CLOCK_SKEW`` ahead of our clock is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.audit.service import record as audit
from esimcare.errors import DomainError, ForbiddenError
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.esims.states import ProfileEvent, ProfileState, profile_after
from esimcare.integrations.smdp.notification_reader import ReceivedNotification
from esimcare.kit.clock import iso
from esimcare.operators.smdp_link import SmdpLink

PACKAGE_DOWNLOADED = 3
INSTALLATION_RESULT = 4
MAX_CLOCK_SKEW = timedelta(minutes=5)
UNKNOWN_ICCID = "unknown_iccid"
UNCHANGED = "unchanged"
DUPLICATE = "duplicate"


class MalformedNotificationError(DomainError):
    status = 400
    code = "malformed-notification"
    title = "This is no HandleDownloadProgressInfo we can read"


class NotificationFromTheFutureError(MalformedNotificationError):
    code = "notification-from-the-future"
    title = "The notification's timestamp is ahead of our clock"


class UnknownRequesterError(ForbiddenError):
    code = "unknown-requester"
    title = "Notifications are accepted only from this operator's SM-DP+"


@dataclass(frozen=True)
class Received:
    """The notification as received: parsed, raw, who the operator expects it from, and how
    the sender proved who it is (``es2plus.sender_auth``; kept in the audit trail)."""

    operator_id: str
    notification: ReceivedNotification
    raw: dict[str, Any]
    link: SmdpLink
    expected_requester: str
    proven_by: str


def check_requester(received: Received) -> None:
    """functionRequesterIdentifier is a label, not a proof (the TLS client certificate is);
    still, a notification naming another sender is refused."""
    if received.notification.requester_id != received.expected_requester:
        raise UnknownRequesterError(
            f"functionRequesterIdentifier {received.notification.requester_id!r} is not "
            f"the SM-DP+ configured for {received.operator_id}"
        )


def event_for(notification: ReceivedNotification, link: SmdpLink) -> ProfileEvent | None:
    """Points 3 and 4 of the spec, and the operator's two custom points; others change nothing."""
    point = notification.point_id
    if point == INSTALLATION_RESULT:
        return ProfileEvent.INSTALL_FAILED if notification.failed else ProfileEvent.INSTALLED
    if notification.failed:
        return None
    return {
        PACKAGE_DOWNLOADED: ProfileEvent.DOWNLOADED,
        link.deleted_point: ProfileEvent.DELETED,
        link.disabled_point: ProfileEvent.DISABLED,
    }.get(point)


def dedupe_key(operator_id: str, notification: ReceivedNotification) -> str:
    parts = (
        operator_id,
        notification.iccid,
        str(notification.point_id),
        iso(notification.timestamp),
        notification.status,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def admit(received: Received, now: datetime) -> None:
    """The checks that need no database: the named sender, and a timestamp not from the future.
    The receiver runs them before queueing a notification for writing."""
    check_requester(received)
    note = received.notification
    if note.timestamp > now + MAX_CLOCK_SKEW:
        raise NotificationFromTheFutureError(
            f"timestamp {iso(note.timestamp)} is more than {MAX_CLOCK_SKEW} after {iso(now)}"
        )


def record_notification(session: Session, received: Received, now: datetime) -> str:
    """Store and apply one notification; returns its effect (a state, or why none)."""
    admit(received, now)
    note = received.notification
    row_id = _insert_once(session, received, now)
    if row_id is None:
        return DUPLICATE
    esim = session.scalars(
        select(Esim)
        .where(Esim.operator_id == received.operator_id, Esim.iccid == note.iccid)
        .with_for_update()
    ).one_or_none()
    effect = UNKNOWN_ICCID if esim is None else _apply(esim, note, received.link, now)
    session.execute(
        update(Es2PlusNotification)
        .where(Es2PlusNotification.id == row_id)
        .values(effect=effect, esim_id=esim.id if esim else None)
    )
    _audit(session, received, effect, now)
    return effect


def _apply(esim: Esim, note: ReceivedNotification, link: SmdpLink, received_at: datetime) -> str:
    """Times are when we heard it: an SM-DP+ clock cannot date an install back out of the
    eSIM-swap window."""
    event = event_for(note, link)
    target = None if event is None else profile_after(esim.profile_state, event)
    if target is None:
        return UNCHANGED
    esim.profile_state = target
    if target is ProfileState.DELETED and esim.deleted_on_device_at is None:
        esim.deleted_on_device_at = received_at
    if target is ProfileState.INSTALLED:
        esim.installed_at = received_at
        if esim.eid is None and note.eid:
            esim.eid = note.eid
    return target.value


def _insert_once(session: Session, received: Received, now: datetime) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent duplicates cannot both get in."""
    note = received.notification
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "operator_id": received.operator_id,
        "iccid": note.iccid,
        "point_id": note.point_id,
        "status": note.status,
        "subject_code": note.subject_code,
        "reason_code": note.reason_code,
        "notified_at": note.timestamp,
        "eid": note.eid,
        "profile_type": note.profile_type,
        "requester_id": note.requester_id,
        "raw": received.raw,
        "received_at": now,
        "dedupe_key": dedupe_key(received.operator_id, note),
        "effect": UNCHANGED,
    }
    statement = (
        insert(Es2PlusNotification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Es2PlusNotification.id)
    )
    found: int | None = session.execute(statement).scalar_one_or_none()
    return found


def _audit(session: Session, received: Received, effect: str, now: datetime) -> None:
    note = received.notification
    audit(
        session,
        operator_id=received.operator_id,
        actor=f"smdp:{note.requester_id}",
        action="es2plus.notification",
        subject=f"iccid:{note.iccid}",
        at=now,
        data={
            "point": note.point_id,
            "status": note.status,
            "effect": effect,
            "sender": received.proven_by,
        },
    )
