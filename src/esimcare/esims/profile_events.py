"""What an SM-DP+ notification does to our eSIM (SGP.22 v2.2 5.3.5, HandleDownloadProgressInfo).

``plan_batch`` works out what notifications do, once the receiver has proven the sender
(``es2plus.sender_auth``) and read, in the transaction that stores them
(``es2plus.notification_store``), the eSIMs they name and the dedupe keys already taken: each
notification is stored once (a second delivery changes nothing), moves the eSIM's
``profile_state`` forwards by ``esims.states.PROFILE_EVENT_TRANSITIONS`` and appends an audit
event. An ICCID we do not know is recorded and answered like any other: the SM-DP+ must not
retry forever because of our inventory.

The notification's ``timestamp`` is the SM-DP+'s claim: it is stored (``notified_at``) and
used to tell deliveries apart, but every rule uses the time we received it (``installed_at``
starts the eSIM-swap window of ``cancellations/verification_methods.py``). A claim more than
``MAX_CLOCK_SKEW`` ahead of our clock is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from esimcare.audit.service import AuditEntry
from esimcare.errors import DomainError, ForbiddenError
from esimcare.esims.states import EsimStatus, ProfileEvent, ProfileState, profile_after
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
    # ``raw`` as JSON text to store: the body itself when the receiver saw it is plain JSON
    # (``es2plus.notification_body``), so it need not be serialised again.
    raw_json: str | None = None

    @cached_property
    def dedupe_key(self) -> str:
        return dedupe_key(self.operator_id, self.notification)

    @property
    def raw_text(self) -> str:
        return self.raw_json if self.raw_json is not None else json.dumps(self.raw)


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
    """The same for every delivery of one notification: its timestamp (unix seconds, 10 hex
    digits), then 54 of the 64 hex digits of a SHA-256 over operator, ICCID, point, timestamp
    and status. Time first because an SM-DP+ dates its notifications as they happen: a new key
    lands at the end of the unique index, where a plain hash lands on a random page, and a
    batch of notifications writes one index page, not one per notification."""
    parts = (
        operator_id,
        notification.iccid,
        str(notification.point_id),
        iso(notification.timestamp),
        notification.status,
    )
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{math.floor(notification.timestamp.timestamp()):010x}{digest[:54]}"


def admit(received: Received, now: datetime) -> None:
    """The checks that need no database: the named sender, and a timestamp not from the future.
    The receiver runs them before queueing a notification for writing."""
    check_requester(received)
    note = received.notification
    if note.timestamp > now + MAX_CLOCK_SKEW:
        raise NotificationFromTheFutureError(
            f"timestamp {iso(note.timestamp)} is more than {MAX_CLOCK_SKEW} after {iso(now)}"
        )


@dataclass(slots=True)
class EsimProfile:
    """What a notification may change about one of our eSIMs, as read (locked) in the
    batch's transaction; changed in memory while the batch is planned."""

    id: int
    operator_id: str
    iccid: str
    msisdn: str
    status: EsimStatus
    profile_state: ProfileState
    installed_at: datetime | None
    deleted_on_device_at: datetime | None
    eid: str | None
    changed: bool = False
    installed_now: bool = False  # webhook esim.installed
    deleted_now: bool = False  # webhook esim.deleted


@dataclass(frozen=True)
class Plan:
    """What a batch of notifications does: one effect per notification (in order), the rows
    to insert, the eSIMs changed and the audit entries, in chain order."""

    effects: list[str]
    rows: list[dict[str, Any]]
    changed: list[EsimProfile]
    audit: list[AuditEntry]


def plan_batch(
    batch: Sequence[tuple[Received, datetime]],
    esims: Mapping[tuple[str, str], EsimProfile],
    taken: Collection[str],
) -> Plan:
    """Work out, in order, what each notification does, given the eSIMs it names (keyed by
    operator and ICCID: another tenant's eSIM is unknown here) and the dedupe keys already
    stored. Two notifications about one eSIM apply one after the other; a notification
    delivered twice (before, or within the batch) is a duplicate and changes nothing."""
    seen = set(taken)
    effects: list[str] = []
    rows: list[dict[str, Any]] = []
    audit: list[AuditEntry] = []
    changed: dict[int, EsimProfile] = {}
    for received, now in batch:
        admit(received, now)
        key = received.dedupe_key
        if key in seen:
            effects.append(DUPLICATE)
            continue
        seen.add(key)
        esim = esims.get((received.operator_id, received.notification.iccid))
        if esim is None:
            effect = UNKNOWN_ICCID
        else:
            effect = _apply(esim, received.notification, received.link, now)
            if esim.changed:
                changed[esim.id] = esim
        effects.append(effect)
        rows.append(_row(received, now, key, effect, esim))
        audit.append(_audit_entry(received, effect, now))
    return Plan(effects, rows, list(changed.values()), audit)


def _apply(
    esim: EsimProfile, note: ReceivedNotification, link: SmdpLink, received_at: datetime
) -> str:
    """Times are when we heard it: an SM-DP+ clock cannot date an install back out of the
    eSIM-swap window."""
    event = event_for(note, link)
    target = None if event is None else profile_after(esim.profile_state, event)
    if target is None:
        return UNCHANGED
    esim.profile_state = target
    esim.changed = True
    if target is ProfileState.DELETED and esim.deleted_on_device_at is None:
        esim.deleted_on_device_at = received_at
        esim.deleted_now = True
    if target is ProfileState.INSTALLED:
        esim.installed_at = received_at
        esim.installed_now = True
        if esim.eid is None and note.eid:
            esim.eid = note.eid
    return target.value


def _row(
    received: Received, now: datetime, key: str, effect: str, esim: EsimProfile | None
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
        "raw": received.raw_text,
        "received_at": now,
        "dedupe_key": key,
        "effect": effect,
        "esim_id": esim.id if esim else None,
    }


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
