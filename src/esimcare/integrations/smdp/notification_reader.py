"""Reading HandleDownloadProgressInfo (SGP.22 v2.2 5.3.5) as real SM-DP+s send it: liberally.

Accepted deviations (each pinned by a test): ``timeStamp`` for ``timestamp``; the time as
ISO 8601 (with ``Z``, an offset, or none: then UTC) or as epoch seconds (a number or a numeric
string); ``notificationPointId`` as a numeric string; an ``F``-padded ICCID; extra fields
(``tac``, ``imei``, ...), which are kept in the raw copy and otherwise ignored; a missing
``notificationPointStatus`` (read as Executed-Success) or ``profileType``.
What cannot be read is refused with ``MalformedMessageError``: no JSON object, no ICCID (or one
that is not 19/20 digits), no point id (or one outside 0..2^31-1), no time (or one before
2000, or one that falls off the calendar when converted to UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from esimcare.integrations.smdp.interface import ExecutionStatus
from esimcare.integrations.smdp.messages import MalformedMessageError, wire_iccid
from esimcare.kit.ids import Eid, InvalidIdentifierError

_FAILED = frozenset({ExecutionStatus.FAILED.value, ExecutionStatus.EXPIRED.value})
MAX_POINT_ID = 2**31 - 1  # the column is a 32-bit integer on every database
# Before eSIM existed; also keeps a year-1 date from overflowing in a timezone conversion.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReceivedNotification:
    iccid: str
    point_id: int
    status: str
    timestamp: datetime
    requester_id: str | None
    profile_type: str | None = None
    eid: str | None = None
    subject_code: str | None = None
    reason_code: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in _FAILED


def read_notification(data: object) -> ReceivedNotification:
    if not isinstance(data, Mapping):
        raise MalformedMessageError("the body is not a JSON object")
    status = data.get("notificationPointStatus")
    status = status if isinstance(status, Mapping) else {}
    code = status.get("statusCodeData")
    code = code if isinstance(code, Mapping) else {}
    return ReceivedNotification(
        iccid=_iccid(data.get("iccid")),
        point_id=_point(data.get("notificationPointId")),
        status=str(status.get("status") or ExecutionStatus.SUCCESS.value)[:32],
        timestamp=_moment(data.get("timestamp", data.get("timeStamp"))),
        requester_id=_requester(data.get("header")),
        profile_type=_text(data.get("profileType"), 64),
        eid=_eid(data.get("eid")),
        subject_code=_text(code.get("subjectCode"), 16),
        reason_code=_text(code.get("reasonCode"), 16),
    )


def _iccid(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise MalformedMessageError("iccid is missing")
    try:
        return wire_iccid(raw)
    except InvalidIdentifierError:
        raise MalformedMessageError(f"iccid {raw[:40]!r} is no ICCID") from None


def _point(raw: object) -> int:
    if isinstance(raw, bool) or raw is None:
        raise MalformedMessageError("notificationPointId is missing")
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int):
        raise MalformedMessageError("notificationPointId is not a number")
    if not 0 <= raw <= MAX_POINT_ID:
        raise MalformedMessageError("notificationPointId is out of range")
    return raw


def _moment(raw: object) -> datetime:
    moment = _parse_moment(raw)
    if moment < EARLIEST:
        raise MalformedMessageError("timestamp is before the year 2000")
    return moment


def _parse_moment(raw: object) -> datetime:
    if isinstance(raw, bool) or raw is None:
        raise MalformedMessageError("timestamp is missing")
    if isinstance(raw, int | float) or (isinstance(raw, str) and _is_number(raw)):
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (OverflowError, OSError, ValueError):
            raise MalformedMessageError("timestamp is out of range") from None
    if not isinstance(raw, str):
        raise MalformedMessageError("timestamp is not a time")
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise MalformedMessageError(f"timestamp {raw[:40]!r} is not ISO 8601") from None
    except OverflowError:
        raise MalformedMessageError("timestamp is out of range") from None


def _is_number(text: str) -> bool:
    digits = text.strip().replace(".", "", 1)
    return digits.isascii() and digits.isdigit()


def _requester(header: object) -> str | None:
    if not isinstance(header, Mapping):
        return None
    return _text(header.get("functionRequesterIdentifier"), 128)


def _eid(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return Eid.parse(raw).value
    except InvalidIdentifierError:
        return None  # an EID we cannot read is kept in the raw copy, not trusted


def _text(raw: Any, limit: int) -> str | None:
    if raw is None or isinstance(raw, Mapping | list):
        return None
    text = str(raw).strip()
    return text[:limit] or None
