"""A built-in SM-DP+ that speaks ES2+ (GSMA SGP.22 v2.2 section 5.3) for tests and demos.

It implements ``SmdpGateway`` over its own database, one short transaction per call, so that
its state survives restarts and a crash between its commit and esimcare's can be reproduced.
Definite answers are ``Es2Outcome`` values, never exceptions; ``fail_next`` makes it time out
like a real SM-DP+ would (``TransientIntegrationError``). It knows nothing of HTTP: an HTTP
front wraps it later. The phone's side (download, installation result, deletion) is here too,
for the phone simulator.

Where the spec leaves a choice, the emulator answers as follows (tests pin each one):
- a malformed ICCID names no profile: 8.2.1 / 3.9; a malformed EID: 8.1.1 / 2.1;
- DownloadOrder with neither iccid nor profileType: 8.2.5 / 2.3 (conditional element missing);
- ConfirmOrder on a profile not Allocated or Linked, and CancelOrder on an Available or
  Unavailable profile: 8.2.1 / 3.5 (invalid state transition);
- CancelOrder without eid or matchingId is accepted (liberal); only a different one is refused;
- 8.2.1 / 1.2 and 8.2.5 / 1.2 never occur: the emulator serves one operator;
- SM-DS registration (smdsAddress) always succeeds once an EID is known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.db import transaction
from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import Es2Outcome, ExecutionStatus, FinalProfileStatus
from esimcare.integrations.smdp.states import (
    SmdpFunction,
    SmdpProfileState,
    can_apply,
    can_cancel,
    can_confirm,
    can_release,
    can_transition,
    is_on_device,
)
from esimcare.kit.clock import Clock
from esimcare.kit.ids import Iccid
from esimcare.sandbox.smdp_emulator.models import EmulatedProfile, EmulatorCall
from esimcare.sandbox.smdp_emulator.support import (
    CallRecord,
    DeviceRefusedError,
    FaultPlan,
    InjectedFault,
    ProfileSnapshot,
    RefusalError,
    canonical_iccid,
    check_download,
    clear_order,
    hash_code,
    inventory_imsi,
    lock_profile,
    matching_id_from,
    matching_id_taken,
    new_matching_id,
    next_iccids,
    order_by_iccid,
    parse_eid,
    pick_available,
)
from esimcare.sandbox.store import EmulatorStore

__all__ = ["CallRecord", "DeviceRefusedError", "ProfileSnapshot", "SmdpEmulator"]

_S = SmdpProfileState
_Done = tuple[EmulatedProfile, dict[str, str]]


class SmdpEmulator:
    """The built-in SM-DP+: an ``SmdpGateway`` with its own persistent inventory."""

    def __init__(
        self, store: EmulatorStore, clock: Clock, smdp_address: str = "smdp.esimcare.test"
    ) -> None:
        self._store = store
        self._clock = clock
        self.smdp_address = smdp_address
        self._faults = FaultPlan()

    # --- ES2+ (SGP.22 v2.2 section 5.3) -----------------------------------------------------

    def download_order(
        self,
        *,
        iccid: str | None = None,
        profile_type: str | None = None,
        eid: str | None = None,
        function_call_id: str | None = None,
    ) -> Es2Outcome:
        """ES2+.DownloadOrder (5.3.1): reserve a profile, by ICCID or any Available of a type.

        Available becomes Allocated, or Linked when an EID is given. Besides the ICCID the
        answer carries the profile's IMSI from the inventory (``inventory_imsi``), as an
        operator's own inventory would give it; ES2+ itself does not.
        """

        def body(session: Session) -> _Done:
            if iccid is None and profile_type is None:
                raise RefusalError(codes.CONDITIONAL_ELEMENT_MISSING)
            linked_eid = parse_eid(eid)
            if iccid is not None:
                profile = order_by_iccid(session, iccid, profile_type)
            else:
                profile = pick_available(session, str(profile_type))
            target = _S.ALLOCATED if linked_eid is None else _S.LINKED
            self._move(profile, SmdpFunction.DOWNLOAD_ORDER, target)
            profile.eid = linked_eid
            # "imsi" is the inventory's, beyond ES2+: the wire (response_body) leaves it out.
            return profile, {"iccid": profile.iccid, "imsi": inventory_imsi(profile.iccid)}

        return self._es2(SmdpFunction.DOWNLOAD_ORDER, iccid, function_call_id, body)

    def confirm_order(
        self,
        *,
        iccid: str,
        release: bool,
        eid: str | None = None,
        matching_id: str | None = None,
        confirmation_code: str | None = None,
        smds_address: str | None = None,
        function_call_id: str | None = None,
    ) -> Es2Outcome:
        """ES2+.ConfirmOrder (5.3.2): fix the MatchingID (made up when absent) and the EID.

        Allocated or Linked becomes Released with releaseFlag, else Confirmed.
        """

        def body(session: Session) -> _Done:
            profile = lock_profile(session, iccid)
            given_eid = parse_eid(eid)
            if not can_confirm(profile.state):
                raise RefusalError(codes.INVALID_STATE_TRANSITION, profile)
            if given_eid and profile.eid and given_eid != profile.eid:
                raise RefusalError(codes.EID_DIFFERENT, profile)
            linked_eid = profile.eid or given_eid
            if smds_address and linked_eid is None:
                raise RefusalError(codes.EID_MISSING, profile)
            if matching_id and matching_id_taken(session, matching_id, profile.iccid):
                raise RefusalError(codes.MATCHING_ID_CONFLICT, profile)
            self._move(
                profile, SmdpFunction.CONFIRM_ORDER, _S.RELEASED if release else _S.CONFIRMED
            )
            profile.eid = linked_eid
            profile.matching_id = matching_id or new_matching_id(session)
            profile.confirmation_code_hash = (
                hash_code(confirmation_code) if confirmation_code else None
            )
            profile.smds_address = smds_address or None
            data = {"matchingId": profile.matching_id, "smdpAddress": self.smdp_address}
            return profile, data | ({"eid": linked_eid} if linked_eid else {})

        return self._es2(SmdpFunction.CONFIRM_ORDER, iccid, function_call_id, body)

    def cancel_order(
        self,
        *,
        iccid: str,
        final_status: FinalProfileStatus,
        eid: str | None = None,
        matching_id: str | None = None,
        function_call_id: str | None = None,
    ) -> Es2Outcome:
        """ES2+.CancelOrder (5.3.3): end an order the phone has not downloaded.

        The profile goes back to stock (Available, order data cleared) or is burnt
        (Unavailable). Downloaded and Installed profiles answer 8.2.1 / 3.3.
        """

        def body(session: Session) -> _Done:
            profile = lock_profile(session, iccid)
            given_eid = parse_eid(eid)
            if is_on_device(profile.state):
                raise RefusalError(codes.PROFILE_ALREADY_DOWNLOADED, profile)
            if not can_cancel(profile.state):
                raise RefusalError(codes.INVALID_STATE_TRANSITION, profile)
            if given_eid and profile.eid and given_eid != profile.eid:
                raise RefusalError(codes.EID_DIFFERENT_ON_CANCEL, profile)
            if matching_id and profile.matching_id and matching_id != profile.matching_id:
                raise RefusalError(codes.MATCHING_ID_DIFFERENT, profile)
            self._move(profile, SmdpFunction.CANCEL_ORDER, _S(final_status.value))
            if profile.state is _S.AVAILABLE:
                clear_order(profile)
            return profile, {}

        return self._es2(SmdpFunction.CANCEL_ORDER, iccid, function_call_id, body)

    def release_profile(self, *, iccid: str, function_call_id: str | None = None) -> Es2Outcome:
        """ES2+.ReleaseProfile (5.3.4): Confirmed becomes Released; Released stays (no-op)."""

        def body(session: Session) -> _Done:
            profile = lock_profile(session, iccid)
            if not can_release(profile.state):
                raise RefusalError(codes.INVALID_STATE_TRANSITION, profile)
            self._move(profile, SmdpFunction.RELEASE_PROFILE, _S.RELEASED)
            return profile, {}

        return self._es2(SmdpFunction.RELEASE_PROFILE, iccid, function_call_id, body)

    # --- emulator features ------------------------------------------------------------------

    def fail_next(self, count: int, *, response_lost: bool = False) -> None:
        """Make the next ``count`` ES2+ calls raise TransientIntegrationError.

        By default the call never reaches the SM-DP+ (nothing changes). With
        ``response_lost`` it runs and commits and only the answer is lost: the case that
        makes callers prove their retries are safe.
        """
        kind = InjectedFault.RESPONSE_LOST if response_lost else InjectedFault.TIMEOUT
        self._faults.arm(count, kind)

    def add_inventory(self, profile_type: str, iccids: Iterable[str]) -> list[str]:
        """Put profiles of ``profile_type`` in stock (Available); returns their ICCIDs."""
        canonical = [Iccid.parse(raw).value for raw in iccids]
        with transaction(self._store.sessions) as session:
            for iccid in canonical:
                if session.get(EmulatedProfile, iccid) is not None:
                    raise ValueError(f"ICCID {iccid} is already in the inventory")
                session.add(self._stock_profile(iccid, profile_type))
        return canonical

    def generate_inventory(
        self, profile_type: str, count: int, iccid_prefix: str = "89990010"
    ) -> list[str]:
        """Put ``count`` new profiles in stock, numbered on from the highest under the prefix."""
        with transaction(self._store.sessions) as session:
            existing = list(
                session.scalars(
                    select(EmulatedProfile.iccid).where(
                        EmulatedProfile.iccid.startswith(iccid_prefix)
                    )
                )
            )
            iccids = next_iccids(existing, iccid_prefix, count)
            session.add_all(self._stock_profile(iccid, profile_type) for iccid in iccids)
        return iccids

    def profile(self, iccid: str) -> ProfileSnapshot | None:
        key = canonical_iccid(iccid)
        if key is None:
            return None
        with self._store.sessions() as session:
            row = session.get(EmulatedProfile, key)
            return None if row is None else ProfileSnapshot.of(row)

    def profiles(self, profile_type: str | None = None) -> list[ProfileSnapshot]:
        query = select(EmulatedProfile).order_by(EmulatedProfile.iccid)
        if profile_type is not None:
            query = query.where(EmulatedProfile.profile_type == profile_type)
        with self._store.sessions() as session:
            return [ProfileSnapshot.of(row) for row in session.scalars(query)]

    def calls(self, iccid: str | None = None) -> list[CallRecord]:
        """Every call seen, oldest first; with ``iccid`` only those about that profile."""
        query = select(EmulatorCall).order_by(EmulatorCall.id)
        if iccid is not None:
            query = query.where(EmulatorCall.iccid == (canonical_iccid(iccid) or iccid))
        with self._store.sessions() as session:
            return [CallRecord.of(row) for row in session.scalars(query)]

    def activation_code(self, iccid: str) -> str:
        """``LPA:1$<smdpAddress>$<matchingId>`` for a confirmed order (SGP.22 v2.2 4.1)."""
        snapshot = self.profile(iccid)
        if snapshot is None:
            raise LookupError(f"no profile {iccid}")
        if snapshot.matching_id is None:
            raise ValueError(f"profile {iccid} has no MatchingID: confirm its order first")
        return f"LPA:1${self.smdp_address}${snapshot.matching_id}"

    # --- the phone's side (ES9+), for the phone simulator -----------------------------------

    def download(self, activation_code: str, eid: str, confirmation_code: str | None = None) -> str:
        """The phone downloads a Released profile: it becomes Downloaded; returns the ICCID.

        ``activation_code`` is ``LPA:1$addr$matchingId`` or the bare MatchingID. A Linked
        order only downloads to its EID; otherwise the downloading EID becomes linked.
        """

        def body(session: Session) -> EmulatedProfile:
            wanted = matching_id_from(activation_code, self.smdp_address)
            device_eid = parse_eid(eid)
            profile = session.scalars(
                select(EmulatedProfile)
                .where(EmulatedProfile.matching_id == wanted)
                .with_for_update()
            ).one_or_none()
            if profile is None:
                raise RefusalError(codes.MATCHING_ID_REFUSED)
            check_download(profile, device_eid, confirmation_code)
            self._move(profile, SmdpFunction.PROFILE_DOWNLOAD, _S.DOWNLOADED)
            profile.eid = device_eid
            profile.downloaded_at = self._clock.now()
            return profile

        return self._device(SmdpFunction.PROFILE_DOWNLOAD, None, body).iccid

    def install_result(self, iccid: str, success: bool) -> ProfileSnapshot:
        """The phone reports the installation: Downloaded becomes Installed or Error."""

        def body(session: Session) -> EmulatedProfile:
            profile = lock_profile(session, iccid)
            if not can_apply(SmdpFunction.INSTALLATION_RESULT, profile.state):
                raise RefusalError(codes.INVALID_STATE_TRANSITION, profile)
            self._move(
                profile, SmdpFunction.INSTALLATION_RESULT, _S.INSTALLED if success else _S.ERROR
            )
            return profile

        return self._device(SmdpFunction.INSTALLATION_RESULT, iccid, body)

    def delete_on_device(self, iccid: str) -> ProfileSnapshot:
        """The eUICC reports a deletion; the SM-DP+ state stays Installed (first time kept)."""

        def body(session: Session) -> EmulatedProfile:
            profile = lock_profile(session, iccid)
            if not can_apply(SmdpFunction.DEVICE_DELETION, profile.state):
                raise RefusalError(codes.INVALID_STATE_TRANSITION, profile)
            if profile.deleted_on_device_at is None:
                profile.deleted_on_device_at = self._clock.now()
            return profile

        return self._device(SmdpFunction.DEVICE_DELETION, iccid, body)

    # --- internals --------------------------------------------------------------------------

    def _es2(
        self,
        function: SmdpFunction,
        iccid: str | None,
        call_id: str | None,
        body: Callable[[Session], _Done],
    ) -> Es2Outcome:
        fault = self._faults.take()
        if fault is InjectedFault.TIMEOUT:
            with transaction(self._store.sessions) as session:
                self._record(session, function, call_id, canonical_iccid(iccid), None)
            raise TransientIntegrationError(f"{function}: SM-DP+ emulator time-out (injected)")
        with transaction(self._store.sessions) as session:
            profile: EmulatedProfile | None
            try:
                profile, data = body(session)
                outcome = Es2Outcome(ExecutionStatus.SUCCESS, data=data)
            except RefusalError as refused:
                profile, outcome = refused.profile, Es2Outcome(ExecutionStatus.FAILED, refused.code)
            lost = fault is InjectedFault.RESPONSE_LOST
            key = profile.iccid if profile else canonical_iccid(iccid)
            self._record(session, function, call_id, key, outcome, profile, lost=lost)
        if fault is InjectedFault.RESPONSE_LOST:
            raise TransientIntegrationError(f"{function}: SM-DP+ emulator response lost (injected)")
        return outcome

    def _device(
        self,
        function: SmdpFunction,
        iccid: str | None,
        body: Callable[[Session], EmulatedProfile],
    ) -> ProfileSnapshot:
        with transaction(self._store.sessions) as session:
            try:
                profile = body(session)
            except RefusalError as refused:
                key = refused.profile.iccid if refused.profile else canonical_iccid(iccid)
                failed = Es2Outcome(ExecutionStatus.FAILED, refused.code)
                self._record(session, function, None, key, failed, refused.profile)
                error = DeviceRefusedError(refused.code)
            else:
                done = Es2Outcome(ExecutionStatus.SUCCESS)
                self._record(session, function, None, profile.iccid, done, profile)
                return ProfileSnapshot.of(profile)
        raise error  # after the refusal was committed to the history

    def _record(
        self,
        session: Session,
        function: SmdpFunction,
        call_id: str | None,
        iccid: str | None,
        outcome: Es2Outcome | None,
        profile: EmulatedProfile | None = None,
        *,
        lost: bool = False,
    ) -> None:
        code = outcome.code if outcome else None
        session.add(
            EmulatorCall(
                function=function,
                function_call_id=call_id,
                iccid=iccid,
                status=outcome.status if outcome else None,
                subject_code=code.subject if code else None,
                reason_code=code.reason if code else None,
                message=code.message if code else None,
                state_after=profile.state if profile else None,
                response_lost=lost,
                at=self._clock.now(),
            )
        )

    def _move(self, profile: EmulatedProfile, function: SmdpFunction, target: _S) -> None:
        # The checks above decide the answer; this guards the table against a slip in them.
        if not can_transition(function, profile.state, target):
            raise AssertionError(f"{function} may not move {profile.state} to {target}")
        profile.state = target
        profile.updated_at = self._clock.now()

    def _stock_profile(self, iccid: str, profile_type: str) -> EmulatedProfile:
        return EmulatedProfile(
            iccid=iccid,
            profile_type=profile_type,
            state=_S.AVAILABLE,
            updated_at=self._clock.now(),
        )
