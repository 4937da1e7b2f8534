"""eSIM lifecycle: our contract status, and the profile state in SM-DP+ terms (SGP.22 v2.2 3.1)."""

from __future__ import annotations

from enum import StrEnum


class EsimStatus(StrEnum):
    ACTIVE = "active"
    CANCELLATION_PENDING = "cancellation_pending"
    CANCELLED = "cancelled"


ESIM_TRANSITIONS: dict[EsimStatus, frozenset[EsimStatus]] = {
    EsimStatus.ACTIVE: frozenset({EsimStatus.CANCELLATION_PENDING}),
    EsimStatus.CANCELLATION_PENDING: frozenset({EsimStatus.ACTIVE, EsimStatus.CANCELLED}),
    EsimStatus.CANCELLED: frozenset(),
}


class ProfileState(StrEnum):
    """Where the profile is, as far as we know: SM-DP+ states plus what the phone reported."""

    ALLOCATED = "allocated"
    LINKED = "linked"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    DOWNLOADED = "downloaded"
    INSTALLED = "installed"
    ERROR = "error"
    DISABLED = "disabled"
    DELETED = "deleted"
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"

    @property
    def never_downloaded(self) -> bool:
        """CancelOrder is only possible before the phone downloaded the profile (8.2.1 / 3.3)."""
        return self in _CANCELLABLE_AT_SMDP

    @property
    def on_device(self) -> bool:
        return self in (ProfileState.DOWNLOADED, ProfileState.INSTALLED, ProfileState.DISABLED)


_CANCELLABLE_AT_SMDP = frozenset(
    {
        ProfileState.ALLOCATED,
        ProfileState.LINKED,
        ProfileState.CONFIRMED,
        ProfileState.RELEASED,
        ProfileState.ERROR,
    }
)


def can_change_status(current: EsimStatus, target: EsimStatus) -> bool:
    return target in ESIM_TRANSITIONS[current]
