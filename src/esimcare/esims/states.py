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
    def on_device(self) -> bool:
        return self in (ProfileState.DOWNLOADED, ProfileState.INSTALLED, ProfileState.DISABLED)

    @property
    def withdrawn_at_smdp(self) -> bool:
        """CancelOrder succeeded: the order is gone and its activation code is dead."""
        return self in (ProfileState.AVAILABLE, ProfileState.UNAVAILABLE)


# What we know locally is a claim (notifications are best effort, and only as trustworthy as
# their sender): it never decides whether the SM-DP+ is asked. The cancellation always sends
# CancelOrder and follows the SM-DP+'s answer; these give the local state after that answer.


def profile_after_cancel_order(final_status_value: str) -> ProfileState:
    """CancelOrder succeeded with finalProfileStatusIndicator ``Available`` or ``Unavailable``."""
    return ProfileState(final_status_value.lower())


def profile_after_already_downloaded(current: ProfileState) -> ProfileState:
    """CancelOrder answered that the phone has the profile (8.2.1 / 3.3): it is on a device,
    unless the phone already reported deleting it (the SM-DP+ keeps such profiles Installed)."""
    if current.on_device or current is ProfileState.DELETED:
        return current
    return ProfileState.DOWNLOADED


def can_change_status(current: EsimStatus, target: EsimStatus) -> bool:
    return target in ESIM_TRANSITIONS[current]


class ProfileEvent(StrEnum):
    """What an SM-DP+ notification (SGP.22 v2.2 5.3.5) tells us happened to the profile."""

    DOWNLOADED = "downloaded"  # point 3, success
    INSTALLED = "installed"  # point 4, success
    INSTALL_FAILED = "install_failed"  # point 4, Failed
    DELETED = "deleted"  # the operator's custom "deleted on the phone" point
    DISABLED = "disabled"  # the operator's custom "disabled on the phone" point


_P = ProfileState
_ORDERED = frozenset({_P.ALLOCATED, _P.LINKED, _P.CONFIRMED, _P.RELEASED})

# Notifications are best effort and may arrive late or out of order: each event moves the
# profile only forwards (a late point 3 never undoes point 4), and nothing leaves DELETED.
# AVAILABLE / UNAVAILABLE mean we cancelled the order at the SM-DP+: the profile is no longer
# ours to follow.
PROFILE_EVENT_TRANSITIONS: dict[ProfileEvent, tuple[frozenset[ProfileState], ProfileState]] = {
    ProfileEvent.DOWNLOADED: (_ORDERED | {_P.ERROR}, _P.DOWNLOADED),
    ProfileEvent.INSTALLED: (_ORDERED | {_P.DOWNLOADED, _P.ERROR}, _P.INSTALLED),
    ProfileEvent.INSTALL_FAILED: (_ORDERED | {_P.DOWNLOADED}, _P.ERROR),
    ProfileEvent.DELETED: (
        _ORDERED | {_P.DOWNLOADED, _P.INSTALLED, _P.DISABLED, _P.ERROR},
        _P.DELETED,
    ),
    ProfileEvent.DISABLED: (frozenset({_P.DOWNLOADED, _P.INSTALLED}), _P.DISABLED),
}


def profile_after(current: ProfileState, event: ProfileEvent) -> ProfileState | None:
    """The state ``event`` moves a profile in ``current`` to, or None if it must not move."""
    sources, target = PROFILE_EVENT_TRANSITIONS[event]
    return target if current in sources else None


def can_apply_profile_event(current: ProfileState, event: ProfileEvent) -> bool:
    return profile_after(current, event) is not None
