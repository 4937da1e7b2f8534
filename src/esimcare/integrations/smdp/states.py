"""SM-DP+ profile states and the transitions each function may make (SGP.22 v2.2 section 3.1).

The table is data, not code paths: the emulator, its tests and anyone explaining a refusal read
the same ``TRANSITIONS``. States are named exactly as ES2+ names them.
"""

from __future__ import annotations

from enum import StrEnum


class SmdpProfileState(StrEnum):
    AVAILABLE = "Available"
    ALLOCATED = "Allocated"
    LINKED = "Linked"
    CONFIRMED = "Confirmed"
    RELEASED = "Released"
    DOWNLOADED = "Downloaded"
    INSTALLED = "Installed"
    ERROR = "Error"
    UNAVAILABLE = "Unavailable"


class SmdpFunction(StrEnum):
    """What can happen to a profile: the four ES2+ order functions and what the phone does."""

    DOWNLOAD_ORDER = "DownloadOrder"  # 5.3.1
    CONFIRM_ORDER = "ConfirmOrder"  # 5.3.2
    CANCEL_ORDER = "CancelOrder"  # 5.3.3
    RELEASE_PROFILE = "ReleaseProfile"  # 5.3.4
    PROFILE_DOWNLOAD = "ProfileDownload"  # ES9+ download of the bound profile package
    INSTALLATION_RESULT = "InstallationResult"  # ES9+ HandleNotification with the result
    DEVICE_DELETION = "DeviceDeletion"  # a delete notification from the eUICC

    @property
    def is_es2plus(self) -> bool:
        return self in ES2PLUS_FUNCTIONS


ES2PLUS_FUNCTIONS = frozenset(
    {
        SmdpFunction.DOWNLOAD_ORDER,
        SmdpFunction.CONFIRM_ORDER,
        SmdpFunction.CANCEL_ORDER,
        SmdpFunction.RELEASE_PROFILE,
    }
)

_S = SmdpProfileState

_CANCELLABLE = (_S.ALLOCATED, _S.LINKED, _S.CONFIRMED, _S.RELEASED, _S.ERROR)
_ORDERED = frozenset({_S.CONFIRMED, _S.RELEASED})

TRANSITIONS: dict[SmdpFunction, dict[SmdpProfileState, frozenset[SmdpProfileState]]] = {
    # Allocated without an EID, Linked with one.
    SmdpFunction.DOWNLOAD_ORDER: {_S.AVAILABLE: frozenset({_S.ALLOCATED, _S.LINKED})},
    # releaseFlag false gives Confirmed, true gives Released.
    SmdpFunction.CONFIRM_ORDER: {_S.ALLOCATED: _ORDERED, _S.LINKED: _ORDERED},
    # Releasing a released profile again is a successful no-op.
    SmdpFunction.RELEASE_PROFILE: {
        _S.CONFIRMED: frozenset({_S.RELEASED}),
        _S.RELEASED: frozenset({_S.RELEASED}),
    },
    SmdpFunction.PROFILE_DOWNLOAD: {_S.RELEASED: frozenset({_S.DOWNLOADED})},
    SmdpFunction.INSTALLATION_RESULT: {_S.DOWNLOADED: frozenset({_S.INSTALLED, _S.ERROR})},
    # finalProfileStatusIndicator picks Available (back to stock) or Unavailable (burnt).
    SmdpFunction.CANCEL_ORDER: {
        state: frozenset({_S.AVAILABLE, _S.UNAVAILABLE}) for state in _CANCELLABLE
    },
    # The SM-DP+ keeps an installed profile Installed when the phone deletes it.
    SmdpFunction.DEVICE_DELETION: {_S.INSTALLED: frozenset({_S.INSTALLED})},
}


def targets(function: SmdpFunction, current: SmdpProfileState) -> frozenset[SmdpProfileState]:
    """The states ``function`` may move a profile in ``current`` to; empty if it may not run."""
    return TRANSITIONS[function].get(current, frozenset())


def can_apply(function: SmdpFunction, current: SmdpProfileState) -> bool:
    return bool(targets(function, current))


def can_transition(
    function: SmdpFunction, current: SmdpProfileState, target: SmdpProfileState
) -> bool:
    return target in targets(function, current)


def can_download_order(state: SmdpProfileState) -> bool:
    return can_apply(SmdpFunction.DOWNLOAD_ORDER, state)


def can_confirm(state: SmdpProfileState) -> bool:
    return can_apply(SmdpFunction.CONFIRM_ORDER, state)


def can_release(state: SmdpProfileState) -> bool:
    return can_apply(SmdpFunction.RELEASE_PROFILE, state)


def can_cancel(state: SmdpProfileState) -> bool:
    return can_apply(SmdpFunction.CANCEL_ORDER, state)


def is_on_device(state: SmdpProfileState) -> bool:
    """The phone has the profile: CancelOrder answers 8.2.1 / 3.3 (SGP.22 v2.2 5.3.3)."""
    return state in (_S.DOWNLOADED, _S.INSTALLED)
