"""Random ES2+ call sequences keep the emulator in step with a tiny model of es2plus.md.

The model below is written from the spec's state diagram and code table, independently of the
emulator's own transition table, so a slip in either shows up as a disagreement.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import (
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
    StatusCode,
)
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid
from esimcare.sandbox.smdp_emulator.emulator import DeviceRefusedError, SmdpEmulator
from esimcare.sandbox.store import EmulatorStore

EID_A = Eid.from_body("89049032000000000000000000" + "0001").value
EID_B = Eid.from_body("89049032000000000000000000" + "0002").value
UNKNOWN_ICCID = "8999009000000000002"
TYPES = ["consumer", "iot"]

# Weighted towards calls that can succeed, so that sequences get deep into the diagram.
iccid_index = st.sampled_from([0, 0, 1, 1, 2, 3, 4, 4, 5, 6])  # 6 is the unknown ICCID
eids = st.sampled_from([None, None, EID_A, EID_B])
Expected = tuple[StatusCode | None, Callable[[Es2Outcome], None]]


@dataclass
class Modelled:
    profile_type: str
    state: str = "Available"
    eid: str | None = None
    matching_id: str | None = None


def _nothing(_: Es2Outcome) -> None:
    return None


class SmdpMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="smdp-prop-"))
        self.store = EmulatorStore(f"sqlite:///{self.tmp / 'emulators.db'}")
        self.store.create_tables()
        self.smdp = SmdpEmulator(self.store, FrozenClock(datetime(2025, 1, 1, tzinfo=UTC)))
        stock = self.smdp.generate_inventory("consumer", 4)
        stock += self.smdp.generate_inventory("iot", 2, iccid_prefix="89990020")
        self.iccids = [*stock, UNKNOWN_ICCID]
        self.model = {
            iccid: Modelled(t)
            for iccid, t in zip(stock, ["consumer"] * 4 + ["iot"] * 2, strict=True)
        }
        self.fault: str | None = None

    def teardown(self) -> None:
        self.store.engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- ES2+ -----------------------------------------------------------------------------

    @rule(
        i=st.none() | iccid_index,
        ptype=st.sampled_from([None, None, None, *TYPES, "ghost"]),
        eid=eids,
    )
    def download_order(self, i: int | None, ptype: str | None, eid: str | None) -> None:
        iccid = None if i is None else self.iccids[i]
        expected = self._expect_download_order(iccid, ptype, eid)
        self._es2(
            lambda: self.smdp.download_order(iccid=iccid, profile_type=ptype, eid=eid), expected
        )

    @rule(i=iccid_index, release=st.booleans(), eid=eids, mid=st.sampled_from([None, "M1", "M2"]))
    def confirm_order(self, i: int, release: bool, eid: str | None, mid: str | None) -> None:
        iccid = self.iccids[i]
        expected = self._expect_confirm(iccid, release, eid, mid)
        call = lambda: self.smdp.confirm_order(  # noqa: E731
            iccid=iccid, release=release, eid=eid, matching_id=mid
        )
        self._es2(call, expected)

    @rule(
        i=iccid_index,
        final=st.sampled_from(
            [*[FinalProfileStatus.AVAILABLE] * 3, FinalProfileStatus.UNAVAILABLE]
        ),
        eid=eids,
        mid=st.sampled_from(["none", "current", "current", "WRONG"]),
    )
    def cancel_order(self, i: int, final: FinalProfileStatus, eid: str | None, mid: str) -> None:
        iccid = self.iccids[i]
        p = self.model.get(iccid)
        matching_id = {"none": None, "current": p.matching_id if p else None}.get(mid, mid)
        expected = self._expect_cancel(iccid, final, eid, matching_id)
        call = lambda: self.smdp.cancel_order(  # noqa: E731
            iccid=iccid, final_status=final, eid=eid, matching_id=matching_id
        )
        self._es2(call, expected)

    @rule(i=iccid_index)
    def release_profile(self, i: int) -> None:
        iccid = self.iccids[i]
        p = self.model.get(iccid)
        expected: Expected
        if p is None:
            expected = (codes.ICCID_UNKNOWN, _nothing)
        elif p.state in ("Confirmed", "Released"):
            expected = (None, lambda _: setattr(p, "state", "Released"))
        else:
            expected = (codes.INVALID_STATE_TRANSITION, _nothing)
        self._es2(lambda: self.smdp.release_profile(iccid=iccid), expected)

    @rule(roll=st.integers(min_value=0, max_value=3), lost=st.booleans())
    def fail_next(self, roll: int, lost: bool) -> None:
        if roll:  # a fault in one of four draws: most calls should get through
            return
        self.smdp.fail_next(1, response_lost=lost)
        self.fault = "lost" if lost else "timeout"

    # --- the phone --------------------------------------------------------------------------

    @rule(i=st.integers(min_value=0, max_value=5), eid=st.sampled_from([EID_A, EID_B]))
    def download(self, i: int, eid: str) -> None:
        p = self.model[self.iccids[i]]
        if p.matching_id is None:
            return
        code = None
        if p.state != "Released":
            code = codes.PROFILE_NOT_RELEASED
        elif p.eid is not None and p.eid != eid:
            code = codes.EID_REFUSED
        if code is not None:
            with pytest.raises(DeviceRefusedError) as refused:
                self.smdp.download(p.matching_id, eid)
            assert refused.value.code == code
            return
        assert self.smdp.download(p.matching_id, eid) == self.iccids[i]
        p.state, p.eid = "Downloaded", eid

    @rule(i=st.integers(min_value=0, max_value=5), success=st.booleans())
    def install_result(self, i: int, success: bool) -> None:
        p = self.model[self.iccids[i]]
        if p.state != "Downloaded":
            with pytest.raises(DeviceRefusedError):
                self.smdp.install_result(self.iccids[i], success)
            return
        assert self.smdp.install_result(self.iccids[i], success).state == p.state.replace(
            "Downloaded", "Installed" if success else "Error"
        )
        p.state = "Installed" if success else "Error"

    @invariant()
    def emulator_agrees_with_the_model(self) -> None:
        for iccid, p in self.model.items():
            snapshot = self.smdp.profile(iccid)
            assert snapshot is not None
            assert (snapshot.state.value, snapshot.eid, snapshot.matching_id) == (
                p.state,
                p.eid,
                p.matching_id,
            )

    # --- the model --------------------------------------------------------------------------

    def _es2(self, call: Callable[[], Es2Outcome], expected: Expected) -> None:
        code, apply = expected
        fault, self.fault = self.fault, None
        if fault is not None:
            with pytest.raises(TransientIntegrationError):
                call()
            if fault == "lost" and code is None:
                apply(Es2Outcome(ExecutionStatus.SUCCESS, data=self._lost_data()))
            return
        outcome = call()
        if code is None:
            assert outcome.succeeded, outcome
            apply(outcome)
        else:
            assert not outcome.succeeded
            assert outcome.code == code, (outcome.code, code)

    def _lost_data(self) -> dict[str, str]:
        # The answer is lost; what it would have said is readable at the emulator.
        last = self.smdp.calls()[-1]
        snapshot = self.smdp.profile(str(last.iccid))
        assert snapshot is not None
        data = {"iccid": snapshot.iccid}
        if snapshot.matching_id:
            data["matchingId"] = snapshot.matching_id
        return data

    def _expect_download_order(
        self, iccid: str | None, ptype: str | None, eid: str | None
    ) -> Expected:
        if iccid is None and ptype is None:
            return (codes.CONDITIONAL_ELEMENT_MISSING, _nothing)
        if iccid is not None:
            p = self.model.get(iccid)
            if p is None:
                return (codes.ICCID_UNKNOWN, _nothing)
            if ptype is not None and ptype != p.profile_type:
                return (
                    codes.PROFILE_TYPE_MISMATCH if ptype in TYPES else codes.PROFILE_TYPE_UNKNOWN,
                    _nothing,
                )
            if p.state != "Available":
                return (codes.ICCID_IN_USE, _nothing)
            chosen = iccid
        else:
            if ptype not in TYPES:
                return (codes.PROFILE_TYPE_UNKNOWN, _nothing)
            free = sorted(
                i
                for i, m in self.model.items()
                if m.profile_type == ptype and m.state == "Available"
            )
            if not free:
                return (codes.PROFILE_TYPE_EXHAUSTED, _nothing)
            chosen = free[0]

        def apply(outcome: Es2Outcome) -> None:
            assert outcome.data["iccid"] == chosen
            p = self.model[chosen]
            p.state, p.eid = ("Allocated", None) if eid is None else ("Linked", eid)

        return (None, apply)

    def _expect_confirm(
        self, iccid: str, release: bool, eid: str | None, mid: str | None
    ) -> Expected:
        p = self.model.get(iccid)
        if p is None:
            return (codes.ICCID_UNKNOWN, _nothing)
        if p.state not in ("Allocated", "Linked"):
            return (codes.INVALID_STATE_TRANSITION, _nothing)
        if eid and p.eid and eid != p.eid:
            return (codes.EID_DIFFERENT, _nothing)
        if mid and any(m.matching_id == mid for i, m in self.model.items() if i != iccid):
            return (codes.MATCHING_ID_CONFLICT, _nothing)

        def apply(outcome: Es2Outcome) -> None:
            p.state = "Released" if release else "Confirmed"
            p.eid = p.eid or eid
            p.matching_id = outcome.data["matchingId"]
            assert mid is None or p.matching_id == mid

        return (None, apply)

    def _expect_cancel(
        self, iccid: str, final: FinalProfileStatus, eid: str | None, mid: str | None
    ) -> Expected:
        p = self.model.get(iccid)
        if p is None:
            return (codes.ICCID_UNKNOWN, _nothing)
        if p.state in ("Downloaded", "Installed"):
            return (codes.PROFILE_ALREADY_DOWNLOADED, _nothing)
        if p.state in ("Available", "Unavailable"):
            return (codes.INVALID_STATE_TRANSITION, _nothing)
        if eid and p.eid and eid != p.eid:
            return (codes.EID_DIFFERENT_ON_CANCEL, _nothing)
        if mid and p.matching_id and mid != p.matching_id:
            return (codes.MATCHING_ID_DIFFERENT, _nothing)

        def apply(_: Es2Outcome) -> None:
            p.state = final.value
            if final is FinalProfileStatus.AVAILABLE:
                p.eid = p.matching_id = None

        return (None, apply)


SmdpMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSmdpEmulatorFollowsTheModel = SmdpMachine.TestCase
