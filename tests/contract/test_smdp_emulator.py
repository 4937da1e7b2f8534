"""The SM-DP+ emulator answers each ES2+ function as SGP.22 v2.2 section 5.3 says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import (
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
    SmdpGateway,
    StatusCode,
)
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid
from esimcare.sandbox.smdp_emulator.emulator import DeviceRefusedError, SmdpEmulator
from esimcare.sandbox.smdp_emulator.support import inventory_imsi
from esimcare.sandbox.store import EmulatorStore

S = SmdpProfileState
AVAILABLE, UNAVAILABLE = FinalProfileStatus.AVAILABLE, FinalProfileStatus.UNAVAILABLE
EID_A = Eid.from_body("89049032000000000000000000" + "0001").value
EID_B = Eid.from_body("89049032000000000000000000" + "0002").value
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmulatorStore]:
    store = EmulatorStore(f"sqlite:///{tmp_path / 'emulators.db'}")
    store.create_tables()
    yield store
    store.engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def smdp(store: EmulatorStore, clock: FrozenClock) -> SmdpEmulator:
    emulator = SmdpEmulator(store, clock)
    emulator.generate_inventory("consumer", 3)
    emulator.generate_inventory("iot", 1, iccid_prefix="89990020")
    return emulator


@pytest.fixture
def iccids(smdp: SmdpEmulator) -> list[str]:
    return [p.iccid for p in smdp.profiles("consumer")]


def failed_with(outcome: Es2Outcome, code: StatusCode) -> bool:
    return outcome.status is ExecutionStatus.FAILED and outcome.is_code(code)


def state(smdp: SmdpEmulator, iccid: str) -> S:
    snapshot = smdp.profile(iccid)
    assert snapshot is not None
    return snapshot.state


def released(smdp: SmdpEmulator, iccid: str, eid: str | None = None) -> str:
    assert smdp.download_order(iccid=iccid, eid=eid).succeeded
    outcome = smdp.confirm_order(iccid=iccid, release=True)
    assert outcome.succeeded
    return outcome.data["matchingId"]


def installed(smdp: SmdpEmulator, iccid: str) -> None:
    matching_id = released(smdp, iccid)
    smdp.download(matching_id, EID_A)
    smdp.install_result(iccid, success=True)


# --- inventory ---------------------------------------------------------------------------


def test_the_emulator_is_an_smdp_gateway(smdp: SmdpEmulator) -> None:
    gateway: SmdpGateway = smdp
    assert gateway.release_profile(iccid="8999001000000000000").is_code(codes.ICCID_UNKNOWN)


def test_generated_inventory_is_available_luhn_valid_and_numbered_on(smdp: SmdpEmulator) -> None:
    more = smdp.generate_inventory("consumer", 2)
    all_consumer = [p.iccid for p in smdp.profiles("consumer")]
    assert len(set(all_consumer)) == 5
    assert all_consumer[-2:] == more
    assert all(p.state is S.AVAILABLE for p in smdp.profiles())


def test_added_inventory_is_stored_without_f_padding(smdp: SmdpEmulator) -> None:
    [iccid] = smdp.add_inventory("consumer", ["8944000000000000001F"])
    assert iccid == "8944000000000000001"
    assert smdp.profile("8944000000000000001F") is not None
    with pytest.raises(ValueError, match="already in the inventory"):
        smdp.add_inventory("consumer", [iccid])


# --- DownloadOrder (5.3.1) ------------------------------------------------------------------


def test_download_order_by_type_allocates_the_lowest_available(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    outcome = smdp.download_order(profile_type="consumer")
    assert outcome.status is ExecutionStatus.SUCCESS
    assert outcome.data == {"iccid": iccids[0], "imsi": inventory_imsi(iccids[0])}
    assert state(smdp, iccids[0]) is S.ALLOCATED


def test_download_order_with_an_eid_links_the_profile(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    assert smdp.download_order(iccid=iccids[1] + "F", eid=EID_A).succeeded
    snapshot = smdp.profile(iccids[1])
    assert snapshot is not None
    assert (snapshot.state, snapshot.eid) == (S.LINKED, EID_A)


def test_download_order_with_matching_iccid_and_type_succeeds(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    assert smdp.download_order(iccid=iccids[2], profile_type="consumer").succeeded


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"iccid": "8999001999999999994"}, codes.ICCID_UNKNOWN),
        ({"iccid": "not an iccid"}, codes.ICCID_UNKNOWN),
        ({"profile_type": "nope"}, codes.PROFILE_TYPE_UNKNOWN),
        ({"iccid": "FIRST", "profile_type": "iot"}, codes.PROFILE_TYPE_MISMATCH),
        ({"iccid": "FIRST", "profile_type": "nope"}, codes.PROFILE_TYPE_UNKNOWN),
        ({}, codes.CONDITIONAL_ELEMENT_MISSING),
        ({"profile_type": "consumer", "eid": "123"}, codes.EID_INVALID),
    ],
)
def test_download_order_refuses(
    smdp: SmdpEmulator, iccids: list[str], kwargs: dict[str, str], code: StatusCode
) -> None:
    if kwargs.get("iccid") == "FIRST":
        kwargs = kwargs | {"iccid": iccids[0]}
    assert failed_with(smdp.download_order(**kwargs), code)
    assert all(p.state is S.AVAILABLE for p in smdp.profiles())


def test_download_order_refuses_an_iccid_in_use(smdp: SmdpEmulator, iccids: list[str]) -> None:
    assert smdp.download_order(iccid=iccids[0]).succeeded
    assert failed_with(smdp.download_order(iccid=iccids[0]), codes.ICCID_IN_USE)


def test_download_order_reports_a_type_with_none_left(smdp: SmdpEmulator) -> None:
    assert smdp.download_order(profile_type="iot").succeeded
    assert failed_with(smdp.download_order(profile_type="iot"), codes.PROFILE_TYPE_EXHAUSTED)


# --- ConfirmOrder (5.3.2) -------------------------------------------------------------------


def test_confirm_order_makes_up_a_matching_id_and_confirms(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    outcome = smdp.confirm_order(iccid=iccids[0], release=False)
    assert outcome.succeeded
    assert outcome.data["smdpAddress"] == "smdp.esimcare.test"
    assert len(outcome.data["matchingId"]) == 23
    assert "eid" not in outcome.data
    assert state(smdp, iccids[0]) is S.CONFIRMED
    expected = f"LPA:1$smdp.esimcare.test${outcome.data['matchingId']}"
    assert smdp.activation_code(iccids[0]) == expected


def test_confirm_order_with_release_flag_releases_and_links_the_given_eid(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    outcome = smdp.confirm_order(iccid=iccids[0], release=True, eid=EID_A, matching_id="MID-1")
    assert outcome.data == {"matchingId": "MID-1", "smdpAddress": smdp.smdp_address, "eid": EID_A}
    assert state(smdp, iccids[0]) is S.RELEASED


def test_confirm_order_refuses_a_different_eid_than_the_linked_one(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0], eid=EID_A)
    assert failed_with(
        smdp.confirm_order(iccid=iccids[0], release=True, eid=EID_B), codes.EID_DIFFERENT
    )
    assert state(smdp, iccids[0]) is S.LINKED


def test_confirm_order_refuses_a_matching_id_used_by_another_profile(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    smdp.download_order(iccid=iccids[1])
    assert smdp.confirm_order(iccid=iccids[0], release=False, matching_id="SAME").succeeded
    outcome = smdp.confirm_order(iccid=iccids[1], release=False, matching_id="SAME")
    assert failed_with(outcome, codes.MATCHING_ID_CONFLICT)


def test_confirm_order_refuses_smds_registration_without_an_eid(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    outcome = smdp.confirm_order(iccid=iccids[0], release=True, smds_address="smds.example")
    assert failed_with(outcome, codes.EID_MISSING)


@pytest.mark.parametrize("setup", ["none", "confirmed"])
def test_confirm_order_refuses_a_profile_not_allocated_or_linked(
    smdp: SmdpEmulator, iccids: list[str], setup: str
) -> None:
    if setup == "confirmed":
        smdp.download_order(iccid=iccids[0])
        smdp.confirm_order(iccid=iccids[0], release=False)
    outcome = smdp.confirm_order(iccid=iccids[0], release=True)
    assert failed_with(outcome, codes.INVALID_STATE_TRANSITION)


def test_confirm_order_refuses_an_unknown_iccid(smdp: SmdpEmulator) -> None:
    outcome = smdp.confirm_order(iccid="8999001999999999994", release=True)
    assert failed_with(outcome, codes.ICCID_UNKNOWN)


# --- CancelOrder (5.3.3) --------------------------------------------------------------------


@pytest.mark.parametrize("release", [False, True])
def test_cancel_order_back_to_stock_clears_the_order(
    smdp: SmdpEmulator, iccids: list[str], release: bool
) -> None:
    smdp.download_order(iccid=iccids[0], eid=EID_A)
    matching_id = smdp.confirm_order(iccid=iccids[0], release=release).data["matchingId"]
    outcome = smdp.cancel_order(
        iccid=iccids[0], final_status=AVAILABLE, eid=EID_A, matching_id=matching_id
    )
    assert outcome.status is ExecutionStatus.SUCCESS
    snapshot = smdp.profile(iccids[0])
    assert snapshot is not None
    assert (snapshot.state, snapshot.eid, snapshot.matching_id) == (S.AVAILABLE, None, None)
    assert smdp.download_order(iccid=iccids[0]).succeeded


def test_cancel_order_unavailable_burns_the_profile(smdp: SmdpEmulator, iccids: list[str]) -> None:
    smdp.download_order(iccid=iccids[0])
    assert smdp.cancel_order(iccid=iccids[0], final_status=UNAVAILABLE).succeeded
    assert state(smdp, iccids[0]) is S.UNAVAILABLE
    assert failed_with(smdp.download_order(iccid=iccids[0]), codes.ICCID_IN_USE)


def test_cancel_order_ends_an_order_whose_installation_failed(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download(released(smdp, iccids[0]), EID_A)
    smdp.install_result(iccids[0], success=False)
    assert smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE).succeeded


@pytest.mark.parametrize("on_device", [S.DOWNLOADED, S.INSTALLED])
def test_cancel_order_refuses_a_profile_on_the_phone(
    smdp: SmdpEmulator, iccids: list[str], on_device: S
) -> None:
    smdp.download(released(smdp, iccids[0]), EID_A)
    if on_device is S.INSTALLED:
        smdp.install_result(iccids[0], success=True)
    outcome = smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE)
    assert failed_with(outcome, codes.PROFILE_ALREADY_DOWNLOADED)
    assert state(smdp, iccids[0]) is on_device


def test_cancel_order_refuses_a_different_eid(smdp: SmdpEmulator, iccids: list[str]) -> None:
    smdp.download_order(iccid=iccids[0], eid=EID_A)
    outcome = smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE, eid=EID_B)
    assert failed_with(outcome, codes.EID_DIFFERENT_ON_CANCEL)


def test_cancel_order_refuses_a_different_matching_id(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    released(smdp, iccids[0])
    outcome = smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE, matching_id="OTHER")
    assert failed_with(outcome, codes.MATCHING_ID_DIFFERENT)
    assert state(smdp, iccids[0]) is S.RELEASED


def test_cancel_order_refuses_a_profile_in_stock_as_an_invalid_transition(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    outcome = smdp.cancel_order(iccid=iccids[0], final_status=UNAVAILABLE)
    assert failed_with(outcome, codes.INVALID_STATE_TRANSITION)
    assert state(smdp, iccids[0]) is S.AVAILABLE


def test_cancel_order_refuses_an_unknown_iccid(smdp: SmdpEmulator) -> None:
    outcome = smdp.cancel_order(iccid="8999001999999999994", final_status=AVAILABLE)
    assert failed_with(outcome, codes.ICCID_UNKNOWN)


# --- ReleaseProfile (5.3.4) -----------------------------------------------------------------


def test_release_profile_releases_a_confirmed_order_and_again_is_a_no_op(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    smdp.confirm_order(iccid=iccids[0], release=False)
    assert smdp.release_profile(iccid=iccids[0]).status is ExecutionStatus.SUCCESS
    assert smdp.release_profile(iccid=iccids[0]).status is ExecutionStatus.SUCCESS
    assert state(smdp, iccids[0]) is S.RELEASED


def test_release_profile_refuses_other_states_and_unknown_iccids(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    assert failed_with(smdp.release_profile(iccid=iccids[0]), codes.INVALID_STATE_TRANSITION)
    smdp.download_order(iccid=iccids[0])
    assert failed_with(smdp.release_profile(iccid=iccids[0]), codes.INVALID_STATE_TRANSITION)
    outcome = smdp.release_profile(iccid="8999001999999999994")
    assert failed_with(outcome, codes.ICCID_UNKNOWN)


# --- the phone's side ---------------------------------------------------------------------


def test_a_phone_downloads_and_installs_with_the_activation_code(
    smdp: SmdpEmulator, iccids: list[str], clock: FrozenClock
) -> None:
    released(smdp, iccids[0])
    clock.advance(timedelta(minutes=5))
    assert smdp.download(smdp.activation_code(iccids[0]), EID_B) == iccids[0]
    snapshot = smdp.install_result(iccids[0], success=True)
    assert (snapshot.state, snapshot.eid) == (S.INSTALLED, EID_B)
    assert snapshot.downloaded_at == START + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown matching id", codes.MATCHING_ID_REFUSED),
        ("other smdp", codes.SMDP_ADDRESS_REFUSED),
        ("other eid", codes.EID_REFUSED),
        ("not released", codes.PROFILE_NOT_RELEASED),
    ],
)
def test_a_phone_download_is_refused(
    smdp: SmdpEmulator, iccids: list[str], case: str, code: StatusCode
) -> None:
    smdp.download_order(iccid=iccids[0], eid=EID_A)
    matching_id = smdp.confirm_order(iccid=iccids[0], release=case != "not released").data[
        "matchingId"
    ]
    activation = {
        "unknown matching id": "LPA:1$smdp.esimcare.test$NOPE",
        "other smdp": f"LPA:1$elsewhere.example${matching_id}",
    }.get(case, matching_id)
    with pytest.raises(DeviceRefusedError) as refused:
        smdp.download(activation, EID_B if case == "other eid" else EID_A)
    assert (refused.value.code.subject, refused.value.code.reason) == (code.subject, code.reason)
    assert smdp.calls()[-1].code == code


def test_a_confirmation_code_is_required_and_checked(smdp: SmdpEmulator, iccids: list[str]) -> None:
    smdp.download_order(iccid=iccids[0])
    outcome = smdp.confirm_order(iccid=iccids[0], release=True, confirmation_code="1234")
    matching_id = outcome.data["matchingId"]
    with pytest.raises(DeviceRefusedError, match=r"2\.2"):
        smdp.download(matching_id, EID_A)
    with pytest.raises(DeviceRefusedError, match=r"3\.8"):
        smdp.download(matching_id, EID_A, confirmation_code="9999")
    assert smdp.download(matching_id, EID_A, confirmation_code="1234") == iccids[0]


def test_an_installation_result_needs_a_downloaded_profile(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    with pytest.raises(DeviceRefusedError, match=r"3\.5"):
        smdp.install_result(iccids[0], success=True)


def test_a_deletion_on_the_phone_is_recorded_and_the_profile_stays_installed(
    smdp: SmdpEmulator, iccids: list[str], clock: FrozenClock
) -> None:
    installed(smdp, iccids[0])
    clock.advance(timedelta(days=1))
    first = smdp.delete_on_device(iccids[0])
    clock.advance(timedelta(days=1))
    again = smdp.delete_on_device(iccids[0])
    assert first.state is again.state is S.INSTALLED
    assert again.deleted_on_device_at == START + timedelta(days=1)
    with pytest.raises(DeviceRefusedError):
        smdp.delete_on_device(iccids[1])


# --- history and faults ---------------------------------------------------------------------


def test_every_call_is_in_the_history_with_its_answer(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(profile_type="consumer", function_call_id="call-1")
    smdp.release_profile(iccid=iccids[0] + "F")
    smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE, function_call_id="call-3")
    history = smdp.calls(iccids[0])
    assert [c.function for c in history] == [
        SmdpFunction.DOWNLOAD_ORDER,
        SmdpFunction.RELEASE_PROFILE,
        SmdpFunction.CANCEL_ORDER,
    ]
    assert [c.function_call_id for c in history] == ["call-1", None, "call-3"]
    ok, failed = ExecutionStatus.SUCCESS, ExecutionStatus.FAILED
    assert [c.status for c in history] == [ok, failed, ok]
    assert history[1].code == codes.INVALID_STATE_TRANSITION
    assert history[2].state_after is S.AVAILABLE
    assert smdp.calls(iccids[1]) == []


def test_fail_next_times_out_without_touching_the_profile(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.fail_next(2)
    for _ in range(2):
        with pytest.raises(TransientIntegrationError):
            smdp.download_order(iccid=iccids[0])
    assert state(smdp, iccids[0]) is S.AVAILABLE
    assert [c.status for c in smdp.calls(iccids[0])] == [None, None]
    assert smdp.download_order(iccid=iccids[0]).succeeded


def test_fail_next_with_a_lost_response_still_changes_the_profile(
    smdp: SmdpEmulator, iccids: list[str]
) -> None:
    smdp.download_order(iccid=iccids[0])
    smdp.fail_next(1, response_lost=True)
    with pytest.raises(TransientIntegrationError):
        smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE)
    assert state(smdp, iccids[0]) is S.AVAILABLE
    assert smdp.calls(iccids[0])[-1].response_lost
    retried = smdp.cancel_order(iccid=iccids[0], final_status=AVAILABLE)
    assert failed_with(retried, codes.INVALID_STATE_TRANSITION)


def test_state_survives_a_new_emulator_on_the_same_database(
    smdp: SmdpEmulator, store: EmulatorStore, clock: FrozenClock, iccids: list[str]
) -> None:
    released(smdp, iccids[0], eid=EID_A)
    again = SmdpEmulator(store, clock)
    snapshot = again.profile(iccids[0])
    assert snapshot is not None
    assert (snapshot.state, snapshot.eid) == (S.RELEASED, EID_A)
