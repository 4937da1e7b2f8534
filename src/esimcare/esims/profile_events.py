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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.audit.service import AuditEntry, record_all
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
    translated = False  # read by the SM-DP+ (ES2+), never shown to a person


class NotificationFromTheFutureError(MalformedNotificationError):
    code = "notification-from-the-future"
    title = "The notification's timestamp is ahead of our clock"
    translated = False  # read by the SM-DP+ (ES2+), never shown to a person


class UnknownRequesterError(ForbiddenError):
    code = "unknown-requester"
    title = "Notifications are accepted only from this operator's SM-DP+"
    translated = False  # read by the SM-DP+ (ES2+), never shown to a person


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
    return record_notifications(session, [(received, now)])[0]


class LostInsertRaceError(RuntimeError):
    """A notification about a known eSIM was inserted by someone else while we held its row:
    cannot happen while eSIM rows are locked first; the transaction is rolled back."""


def record_notifications(session: Session, batch: Sequence[tuple[Received, datetime]]) -> list[str]:
    """Store and apply notifications (each with the time it was received) in the caller's
    transaction, in order; returns each one's effect (a state, or why none).

    Set-based, so a batch costs a handful of statements whatever its size: the eSIMs named are
    locked first (so a concurrent delivery of the same notification waits, then sees ours),
    the dedupe keys already taken are read, effects are worked out in order in memory (two
    notifications about one eSIM in one batch apply one after the other), the new rows go in
    with ``INSERT ... ON CONFLICT DO NOTHING``, and the audit events join each operator's hash
    chain in the same order.
    """
    for received, now in batch:
        admit(received, now)
    keys = [dedupe_key(received.operator_id, received.notification) for received, _ in batch]
    esims = _locked_esims(session, [received for received, _ in batch])
    taken = set(
        session.scalars(
            select(Es2PlusNotification.dedupe_key).where(Es2PlusNotification.dedupe_key.in_(keys))
        )
    )
    effects: list[str] = []
    planned: list[tuple[Received, datetime, str, dict[str, Any]]] = []
    for (received, now), key in zip(batch, keys, strict=True):
        if key in taken:
            effects.append(DUPLICATE)
            continue
        taken.add(key)
        esim = esims.get((received.operator_id, received.notification.iccid))
        effect = (
            UNKNOWN_ICCID
            if esim is None
            else _apply(esim, received.notification, received.link, now)
        )
        effects.append(effect)
        planned.append((received, now, effect, _row(received, now, key, effect, esim)))
    inserted = _insert_new(session, [row for *_, row in planned])
    stored: list[AuditEntry] = []
    for received, now, effect, row in planned:
        if row["dedupe_key"] in inserted:
            stored.append(_audit_entry(received, effect, now))
        elif row["esim_id"] is not None:
            raise LostInsertRaceError(row["dedupe_key"])
        else:  # an unknown ICCID delivered twice at once, the other copy stored first
            effects[keys.index(row["dedupe_key"])] = DUPLICATE
    for operator_id in dict.fromkeys(entry.operator_id for entry in stored):
        record_all(session, [entry for entry in stored if entry.operator_id == operator_id])
    session.flush()
    return effects


def _locked_esims(session: Session, received: list[Received]) -> dict[tuple[str, str], Esim]:
    iccids = sorted({r.notification.iccid for r in received})
    found = session.scalars(select(Esim).where(Esim.iccid.in_(iccids)).with_for_update())
    return {(esim.operator_id, esim.iccid): esim for esim in found}


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


def _row(
    received: Received, now: datetime, key: str, effect: str, esim: Esim | None
) -> dict[str, Any]:
    note = received.notification
    return {
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
        "dedupe_key": key,
        "effect": effect,
        "esim_id": esim.id if esim else None,
    }


_NOTIFICATIONS = Es2PlusNotification.__table__
_INSERT_NEW = {
    name: dialect.insert(_NOTIFICATIONS)
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(_NOTIFICATIONS.c.dedupe_key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING (one multi-row statement): concurrent duplicates
    cannot both get in. Returns the dedupe keys that did."""
    if not rows:
        return set()
    statement = _INSERT_NEW[session.get_bind().dialect.name]
    return set(session.connection().execute(statement, rows).scalars())


def _audit_entry(received: Received, effect: str, now: datetime) -> AuditEntry:
    note = received.notification
    return AuditEntry(
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
