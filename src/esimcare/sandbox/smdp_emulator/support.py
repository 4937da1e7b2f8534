"""What the SM-DP+ emulator hands out and the small pieces it is built from.

Kept apart from ``emulator.py`` so the state machine there reads as the spec does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import ExecutionStatus, StatusCode
from esimcare.integrations.smdp.states import (
    SmdpFunction,
    SmdpProfileState,
    can_apply,
    can_download_order,
)
from esimcare.kit.ids import Eid, Iccid, InvalidIdentifierError
from esimcare.sandbox.smdp_emulator.models import EmulatedProfile, EmulatorCall

_MATCHING_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """A profile as the emulator holds it, detached from any session."""

    iccid: str
    profile_type: str
    state: SmdpProfileState
    eid: str | None
    matching_id: str | None
    has_confirmation_code: bool
    smds_address: str | None
    downloaded_at: datetime | None
    deleted_on_device_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: EmulatedProfile) -> ProfileSnapshot:
        return cls(
            iccid=row.iccid,
            profile_type=row.profile_type,
            state=row.state,
            eid=row.eid,
            matching_id=row.matching_id,
            has_confirmation_code=row.confirmation_code_hash is not None,
            smds_address=row.smds_address,
            downloaded_at=row.downloaded_at,
            deleted_on_device_at=row.deleted_on_device_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call the emulator saw; ``status`` None means it never answered (injected fault)."""

    function: SmdpFunction
    function_call_id: str | None
    iccid: str | None
    status: ExecutionStatus | None
    code: StatusCode | None
    state_after: SmdpProfileState | None
    response_lost: bool
    at: datetime

    @classmethod
    def of(cls, row: EmulatorCall) -> CallRecord:
        code = None
        if row.subject_code is not None and row.reason_code is not None:
            code = StatusCode(row.subject_code, row.reason_code, row.message or "")
        return cls(
            function=row.function,
            function_call_id=row.function_call_id,
            iccid=row.iccid,
            status=row.status,
            code=code,
            state_after=row.state_after,
            response_lost=row.response_lost,
            at=row.at,
        )


class DeviceRefusedError(Exception):
    """The emulated SM-DP+ refused what the phone asked (download, result, deletion)."""

    def __init__(self, code: StatusCode) -> None:
        super().__init__(f"{code} {code.message}".strip())
        self.code = code


class RefusalError(Exception):
    """Internal: abort one emulator call with a definite answer; the caller sees an outcome."""

    def __init__(self, code: StatusCode, profile: EmulatedProfile | None = None) -> None:
        super().__init__(str(code))
        self.code = code
        self.profile = profile


class InjectedFault(StrEnum):
    TIMEOUT = "timeout"  # the call never reached the SM-DP+
    RESPONSE_LOST = "response_lost"  # it ran and committed, but the answer never came back


class FaultPlan:
    """The emulator's fault-injection knob; shared by threads, so guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining = 0
        self._kind = InjectedFault.TIMEOUT

    def arm(self, count: int, kind: InjectedFault) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            self._remaining = count
            self._kind = kind

    def take(self) -> InjectedFault | None:
        with self._lock:
            if self._remaining == 0:
                return None
            self._remaining -= 1
            return self._kind


INVENTORY_MCC = "001"  # ITU-T E.212's test network: these profiles reach no real one


def inventory_imsi(iccid: str) -> str:
    """The IMSI the emulator's inventory pairs with a profile.

    A manufacturer delivers ICCID and IMSI together, numbered in step; the emulator does the
    same: the test network's MCC, the ICCID's three issuer digits as a three-digit MNC (one
    emulator serves several operators, whose serial numbers overlap), and the nine serial
    digits before the check digit.
    """
    return INVENTORY_MCC + iccid[4:7] + iccid[-10:-1]


def canonical_iccid(raw: str | None) -> str | None:
    """The bare-digit ICCID, or None when ``raw`` cannot name a profile at all."""
    if raw is None:
        return None
    try:
        return Iccid.parse(raw).value
    except InvalidIdentifierError:
        return None


def parse_eid(raw: str | None) -> str | None:
    """The EID, None when absent; a malformed one is refused with 8.1.1 / 2.1."""
    if raw is None or raw == "":
        return None
    try:
        return Eid.parse(raw).value
    except InvalidIdentifierError:
        raise RefusalError(codes.EID_INVALID) from None


def lock_profile(session: Session, raw_iccid: str | None) -> EmulatedProfile:
    """Load and lock one profile (``FOR UPDATE`` on PostgreSQL); unknown: 8.2.1 / 3.9."""
    iccid = canonical_iccid(raw_iccid)
    profile = None
    if iccid is not None:
        profile = session.get(EmulatedProfile, iccid, with_for_update=True)
    if profile is None:
        raise RefusalError(codes.ICCID_UNKNOWN)
    return profile


def matching_id_taken(session: Session, matching_id: str, iccid: str) -> bool:
    other = session.scalar(
        select(EmulatedProfile.iccid).where(
            EmulatedProfile.matching_id == matching_id, EmulatedProfile.iccid != iccid
        )
    )
    return other is not None


def new_matching_id(session: Session) -> str:
    """A fresh MatchingID like ``K7QW2-9HXPM-4RTZB-CD3FN`` (SGP.22 v2.2 section 4.1)."""
    while True:
        groups = ("".join(secrets.choice(_MATCHING_ID_ALPHABET) for _ in range(5)) for _ in "1234")
        candidate = "-".join(groups)
        if not matching_id_taken(session, candidate, iccid=""):
            return candidate


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def code_matches(code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code), stored_hash)


def clear_order(profile: EmulatedProfile) -> None:
    """Back to stock: nothing of the cancelled order may stick to the profile."""
    profile.eid = None
    profile.matching_id = None
    profile.confirmation_code_hash = None
    profile.smds_address = None
    profile.downloaded_at = None
    profile.deleted_on_device_at = None


def next_iccids(existing: list[str], prefix: str, count: int) -> list[str]:
    """``count`` new 19-digit ICCIDs after the highest one already under ``prefix``."""
    if not prefix.isdigit() or not 2 <= len(prefix) <= 16:
        raise ValueError("an ICCID prefix has 2 to 16 digits, like 89990010")
    width = 18 - len(prefix)
    taken = [int(i[len(prefix) : 18]) for i in existing if len(i) == 19 and i.startswith(prefix)]
    start = max(taken, default=0) + 1
    if start + count - 1 >= 10**width:
        raise ValueError("the ICCID prefix has no room for that many profiles")
    return [Iccid.from_body(f"{prefix}{n:0{width}d}").value for n in range(start, start + count)]


def order_by_iccid(session: Session, iccid: str, profile_type: str | None) -> EmulatedProfile:
    """DownloadOrder's checks for a named profile (SGP.22 v2.2 5.3.1)."""
    profile = lock_profile(session, iccid)
    if profile_type is not None and profile.profile_type != profile_type:
        known = type_known(session, profile_type)
        code = codes.PROFILE_TYPE_MISMATCH if known else codes.PROFILE_TYPE_UNKNOWN
        raise RefusalError(code, profile)
    if not can_download_order(profile.state):
        raise RefusalError(codes.ICCID_IN_USE, profile)
    return profile


def pick_available(session: Session, profile_type: str) -> EmulatedProfile:
    """DownloadOrder by profile type: the lowest Available ICCID, skipping locked rows."""
    profile = session.scalars(
        select(EmulatedProfile)
        .where(
            EmulatedProfile.profile_type == profile_type,
            EmulatedProfile.state == SmdpProfileState.AVAILABLE,
        )
        .order_by(EmulatedProfile.iccid)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if profile is not None:
        return profile
    known = type_known(session, profile_type)
    raise RefusalError(codes.PROFILE_TYPE_EXHAUSTED if known else codes.PROFILE_TYPE_UNKNOWN)


def type_known(session: Session, profile_type: str) -> bool:
    return bool(
        session.scalar(select(exists().where(EmulatedProfile.profile_type == profile_type)))
    )


def matching_id_from(activation_code: str, smdp_address: str) -> str:
    """The MatchingID of ``LPA:1$<address>$<matchingId>[...]`` or of a bare MatchingID."""
    if "$" not in activation_code:
        return activation_code.strip()
    parts = activation_code.strip().removeprefix("LPA:").split("$")
    if len(parts) < 3 or parts[0] != "1" or parts[1].lower() != smdp_address.lower():
        raise RefusalError(codes.SMDP_ADDRESS_REFUSED)
    return parts[2]


def check_download(
    profile: EmulatedProfile, eid: str | None, confirmation_code: str | None
) -> None:
    """What the SM-DP+ checks before it hands the phone a profile (ES9+, SGP.22 v2.2 5.6)."""
    if not can_apply(SmdpFunction.PROFILE_DOWNLOAD, profile.state):
        raise RefusalError(codes.PROFILE_NOT_RELEASED, profile)
    if eid is None:
        raise RefusalError(codes.EID_MISSING, profile)
    if profile.eid is not None and profile.eid != eid:
        raise RefusalError(codes.EID_REFUSED, profile)
    stored = profile.confirmation_code_hash
    if stored is not None and not confirmation_code:
        raise RefusalError(codes.CONFIRMATION_CODE_MISSING, profile)
    if stored is not None and not code_matches(str(confirmation_code), stored):
        raise RefusalError(codes.CONFIRMATION_CODE_REFUSED, profile)
