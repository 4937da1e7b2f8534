"""The eSIM profile moves only forwards on SM-DP+ notifications (esims/states.py)."""

from __future__ import annotations

import pytest

from esimcare.esims.states import ProfileEvent, ProfileState, profile_after


@pytest.mark.parametrize("event", list(ProfileEvent))
def test_nothing_leaves_deleted(event: ProfileEvent) -> None:
    assert profile_after(ProfileState.DELETED, event) is None


@pytest.mark.parametrize("event", list(ProfileEvent))
@pytest.mark.parametrize("state", [ProfileState.AVAILABLE, ProfileState.UNAVAILABLE])
def test_a_profile_cancelled_at_the_smdp_is_no_longer_followed(
    state: ProfileState, event: ProfileEvent
) -> None:
    assert profile_after(state, event) is None


def test_a_late_download_never_undoes_an_installation() -> None:
    assert profile_after(ProfileState.INSTALLED, ProfileEvent.DOWNLOADED) is None


def test_an_installation_reported_before_its_download_still_installs() -> None:
    assert profile_after(ProfileState.RELEASED, ProfileEvent.INSTALLED) is ProfileState.INSTALLED


def test_only_a_profile_on_the_phone_can_be_disabled() -> None:
    assert profile_after(ProfileState.INSTALLED, ProfileEvent.DISABLED) is ProfileState.DISABLED
    assert profile_after(ProfileState.RELEASED, ProfileEvent.DISABLED) is None


def test_a_disabled_profile_can_still_be_deleted() -> None:
    assert profile_after(ProfileState.DISABLED, ProfileEvent.DELETED) is ProfileState.DELETED
