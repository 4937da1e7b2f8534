"""The SM-DP+ transition table says what es2plus.md says (SGP.22 v2.2 section 3.1)."""

from __future__ import annotations

import pytest

from esimcare.integrations.smdp.states import (
    ES2PLUS_FUNCTIONS,
    TRANSITIONS,
    SmdpFunction,
    SmdpProfileState,
    can_apply,
    can_cancel,
    can_confirm,
    can_download_order,
    can_release,
    can_transition,
    is_on_device,
    targets,
)

S = SmdpProfileState
F = SmdpFunction

CANCELLABLE = {S.ALLOCATED, S.LINKED, S.CONFIRMED, S.RELEASED, S.ERROR}


def test_state_values_are_the_names_es2plus_uses() -> None:
    assert [s.value for s in S] == [
        "Available",
        "Allocated",
        "Linked",
        "Confirmed",
        "Released",
        "Downloaded",
        "Installed",
        "Error",
        "Unavailable",
    ]


def test_every_function_has_a_row_in_the_table() -> None:
    assert set(TRANSITIONS) == set(F)


def test_only_the_four_order_functions_are_es2plus() -> None:
    assert {f for f in F if f.is_es2plus} == ES2PLUS_FUNCTIONS
    assert {f.value for f in ES2PLUS_FUNCTIONS} == {
        "DownloadOrder",
        "ConfirmOrder",
        "CancelOrder",
        "ReleaseProfile",
    }


def test_download_order_takes_only_available_profiles_to_allocated_or_linked() -> None:
    assert targets(F.DOWNLOAD_ORDER, S.AVAILABLE) == {S.ALLOCATED, S.LINKED}
    assert {s for s in S if can_download_order(s)} == {S.AVAILABLE}


def test_confirm_order_takes_allocated_or_linked_to_confirmed_or_released() -> None:
    for state in (S.ALLOCATED, S.LINKED):
        assert targets(F.CONFIRM_ORDER, state) == {S.CONFIRMED, S.RELEASED}
    assert {s for s in S if can_confirm(s)} == {S.ALLOCATED, S.LINKED}


def test_release_profile_releases_confirmed_and_keeps_released() -> None:
    assert targets(F.RELEASE_PROFILE, S.CONFIRMED) == {S.RELEASED}
    assert targets(F.RELEASE_PROFILE, S.RELEASED) == {S.RELEASED}
    assert {s for s in S if can_release(s)} == {S.CONFIRMED, S.RELEASED}


def test_the_phone_downloads_released_and_reports_installed_or_error() -> None:
    assert targets(F.PROFILE_DOWNLOAD, S.RELEASED) == {S.DOWNLOADED}
    assert targets(F.INSTALLATION_RESULT, S.DOWNLOADED) == {S.INSTALLED, S.ERROR}
    assert {s for s in S if can_apply(F.PROFILE_DOWNLOAD, s)} == {S.RELEASED}


@pytest.mark.parametrize("state", sorted(CANCELLABLE))
def test_cancel_order_ends_an_undownloaded_order_in_stock_or_burnt(state: S) -> None:
    assert can_cancel(state)
    assert targets(F.CANCEL_ORDER, state) == {S.AVAILABLE, S.UNAVAILABLE}


@pytest.mark.parametrize("state", sorted(set(S) - CANCELLABLE))
def test_cancel_order_cannot_touch_stock_burnt_or_downloaded_profiles(state: S) -> None:
    assert not can_cancel(state)
    assert targets(F.CANCEL_ORDER, state) == frozenset()


def test_downloaded_and_installed_count_as_on_the_device() -> None:
    assert {s for s in S if is_on_device(s)} == {S.DOWNLOADED, S.INSTALLED}


def test_a_deletion_on_the_phone_leaves_an_installed_profile_installed() -> None:
    assert targets(F.DEVICE_DELETION, S.INSTALLED) == {S.INSTALLED}
    assert {s for s in S if can_apply(F.DEVICE_DELETION, s)} == {S.INSTALLED}


def test_nothing_leaves_unavailable() -> None:
    assert not any(can_apply(f, S.UNAVAILABLE) for f in F)


def test_can_transition_rejects_a_target_outside_the_table() -> None:
    assert can_transition(F.CONFIRM_ORDER, S.LINKED, S.RELEASED)
    assert not can_transition(F.CONFIRM_ORDER, S.LINKED, S.DOWNLOADED)
    assert not can_transition(F.RELEASE_PROFILE, S.ALLOCATED, S.RELEASED)
