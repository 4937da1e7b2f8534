"""A cancellation always asks the SM-DP+ (issue 7.2): what our ``profile_state`` says (built from
notifications, which anyone could forge before they were authenticated) never lets the profile
step skip CancelOrder, and the step keeps what the SM-DP+ answered. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from esimcare.cancellations import service
from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.cancellations.steps import ProfileAnswer, ProfileStep, StepInput
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.es2plus.receiver import Arrival, record_arrivals
from esimcare.esims.models import Esim
from esimcare.esims.profile_events import Received
from esimcare.esims.service import list_esims
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.integrations.network.interface import SubscriberState
from esimcare.integrations.smdp.interface import Es2Outcome, ExecutionStatus, StatusCode
from esimcare.integrations.smdp.notification_reader import read_notification
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.jobs.errors import PermanentJobError
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid
from esimcare.operators.smdp_link import SmdpLink
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import DeviceRefusedError, SmdpEmulator
from tests.support import customer, request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

INSTALLED, RELEASED = 0, 1  # Anna's demo eSIMs on mts: on her phone, and never downloaded
DELETED_POINT = 102  # the demo operators' custom "deleted on the phone" point
PHONE = Eid.from_body("890490320000000000000000008888").value


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


def drain(ctx: Context, rounds: int = 12) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


def emulator(ctx: Context) -> SmdpEmulator:
    gateway = ctx.smdp_for("mts")
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def anna_esim(ctx: Context, index: int) -> Esim:
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        return list_esims(session, "mts", anna.id)[index].esim


def notify(ctx: Context, iccid: str, point: int, status: str = "Executed-Success") -> None:
    """A HandleDownloadProgressInfo as it is recorded, whoever sent it."""
    raw: dict[str, Any] = {
        "header": {
            "functionRequesterIdentifier": EMULATOR_REQUESTER_ID,
            "functionCallIdentifier": f"forged-{point}",
        },
        "iccid": iccid,
        "profileType": "mts-travel",
        "timestamp": "2026-11-23T11:00:00Z",
        "notificationPointId": point,
        "notificationPointStatus": {"status": status},
    }
    link = ctx.policy("mts").smdp_link
    received = Received(
        "mts", read_notification(raw), raw, link, EMULATOR_REQUESTER_ID, proven_by="test"
    )
    record_arrivals(ctx, [Arrival(received, ctx.clock.now())])


def profile_step(ctx: Context, cancellation_id: int) -> CancellationStep:
    with transaction(ctx.sessions) as session:
        return next(
            s for s in service.steps_of(session, cancellation_id) if s.name is StepName.PROFILE
        )


def cancellation_and_esim(ctx: Context, cancellation_id: int) -> tuple[Cancellation, Esim]:
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        esim = session.get(Esim, cancellation.esim_id)
        assert esim is not None
        return cancellation, esim


def cancel_orders_sent(ctx: Context, iccid: str) -> int:
    calls = emulator(ctx).calls(iccid)
    return sum(1 for call in calls if call.function is SmdpFunction.CANCEL_ORDER)


@pytest.mark.parametrize(
    ("point", "claimed"),
    [(DELETED_POINT, ProfileState.DELETED), (4, ProfileState.INSTALLED)],
    ids=["deleted", "installed"],
)
def test_a_forged_notification_does_not_leave_a_released_profile_downloadable(
    ctx: Context, point: int, claimed: ProfileState
) -> None:
    released = anna_esim(ctx, RELEASED)
    notify(ctx, released.iccid, point)
    assert anna_esim(ctx, RELEASED).profile_state is claimed  # the claim is on record

    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=RELEASED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    profile = emulator(ctx).profile(esim.iccid)
    assert profile is not None and profile.state is SmdpProfileState.UNAVAILABLE
    assert cancel_orders_sent(ctx, esim.iccid) == 1
    step = profile_step(ctx, cancellation_id)
    assert step.outcome == "cancelled_at_smdp"
    assert step.external_answer == {"status": "Executed-Success"}
    assert esim.profile_state is ProfileState.UNAVAILABLE
    with pytest.raises(DeviceRefusedError):  # whoever holds the QR code gets nothing now
        emulator(ctx).download(str(esim.activation_code), PHONE)


def test_an_installed_profile_is_asked_about_and_goes_the_delete_on_the_phone_way(
    ctx: Context,
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=INSTALLED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert esim.status is EsimStatus.CANCELLED
    assert cancel_orders_sent(ctx, esim.iccid) == 1  # asked once, answered definitely
    step = profile_step(ctx, cancellation_id)
    assert (step.outcome, step.attempts) == ("delete_on_device", 1)
    assert step.external_answer is not None
    assert step.external_answer["status"] == "Failed"
    assert (step.external_answer["subjectCode"], step.external_answer["reasonCode"]) == (
        "8.2.1",
        "3.3",
    )
    assert esim.profile_state is ProfileState.INSTALLED
    assert ctx.network.state(imsi=esim.imsi) is SubscriberState.REMOVED


def test_a_profile_the_phone_reported_deleted_is_still_asked_about(ctx: Context) -> None:
    installed = anna_esim(ctx, INSTALLED)
    emulator(ctx).delete_on_device(installed.iccid)
    notify(ctx, installed.iccid, DELETED_POINT)

    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=INSTALLED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert cancel_orders_sent(ctx, esim.iccid) == 1
    step = profile_step(ctx, cancellation_id)
    assert step.outcome == "delete_on_device"
    assert step.external_answer is not None and step.external_answer["reasonCode"] == "3.3"
    assert esim.profile_state is ProfileState.DELETED  # the SM-DP+ keeps such profiles Installed


def test_a_definite_refusal_fails_the_cancellation_at_once_with_the_smdps_answer(
    ctx: Context,
) -> None:
    released = anna_esim(ctx, RELEASED)
    with transaction(ctx.sessions) as session:
        row = session.get(Esim, released.id)
        assert row is not None
        row.matching_id = "NOT-THE-ORDERS-MATCHING-ID"  # the SM-DP+ answers 8.2.6 / 3.10
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=RELEASED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.FAILED
    assert "8.2.6 / 3.10" in (cancellation.failure_reason or "")
    assert cancel_orders_sent(ctx, esim.iccid) == 1  # never blindly retried
    step = profile_step(ctx, cancellation_id)
    assert step.status is StepStatus.FAILED
    assert step.external_answer is not None
    assert (step.external_answer["subjectCode"], step.external_answer["reasonCode"]) == (
        "8.2.6",
        "3.10",
    )
    profile = emulator(ctx).profile(esim.iccid)
    assert profile is not None and profile.state is SmdpProfileState.RELEASED


def test_a_cancel_order_answered_after_a_lost_answer_is_reconciled_once_only(
    ctx: Context,
) -> None:
    """3.5 or 3.9 on a later attempt means the earlier, unanswered CancelOrder went through;
    after a definite refusal it means nothing of the kind (a staff retry of that refusal)."""
    esim = anna_esim(ctx, RELEASED)
    step = ProfileStep(ctx)
    unknown = ProfileAnswer(Es2Outcome(ExecutionStatus.FAILED, StatusCode("8.2.1", "3.9")))
    refused_before = {"status": "Failed", "subjectCode": "8.2.1", "reasonCode": "3.9"}
    with transaction(ctx.sessions) as session:
        row = session.get(Esim, esim.id)
        assert row is not None
        cancellation = Cancellation(id=0, reference="TEST")
        after_lost = StepInput(cancellation, row, 2, ctx.clock.now(), None)
        assert step.record(session, after_lost, unknown) == "cancelled_at_smdp_reconciled"
        after_refusal = StepInput(cancellation, row, 2, ctx.clock.now(), refused_before)
        with pytest.raises(PermanentJobError, match=re.escape("8.2.1 / 3.9")):
            step.record(session, after_refusal, unknown)
        session.rollback()


class ExpiresOnce:
    """The emulator behind an SM-DP+ whose first CancelOrder is answered ``Expired``."""

    def __init__(self, inner: SmdpEmulator) -> None:
        self.inner = inner
        self.expired = 0

    def cancel_order(self, **kwargs: Any) -> Es2Outcome:
        if not self.expired:
            self.expired += 1
            return Es2Outcome(ExecutionStatus.EXPIRED)
        return self.inner.cancel_order(**kwargs)


def test_an_expired_cancel_order_is_asked_again_not_taken_as_an_answer(ctx: Context) -> None:
    gateway = ExpiresOnce(emulator(ctx))
    ctx.smdp["mts"] = gateway  # type: ignore[assignment]
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=RELEASED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert gateway.expired == 1
    step = profile_step(ctx, cancellation_id)
    assert (step.outcome, step.attempts) == ("cancelled_at_smdp", 2)
    profile = gateway.inner.profile(esim.iccid)
    assert profile is not None and profile.state is SmdpProfileState.UNAVAILABLE


class AnswersAlreadyInstalled:
    """An SM-DP+ that words "already installed" its own way: ``Failed`` 8.2 / 3.3 (the profile
    as subject instead of its ICCID), the way some vendors answer CancelOrder."""

    def __init__(self) -> None:
        self.asked = 0

    def cancel_order(self, **_kwargs: Any) -> Es2Outcome:
        self.asked += 1
        return Es2Outcome(ExecutionStatus.FAILED, StatusCode("8.2", "3.3", "already installed"))


def with_smdp_settings(ctx: Context, **settings: object) -> None:
    policy = ctx.policy("mts")
    ctx.policies["mts"] = replace(policy, smdp={**policy.smdp, **settings})


def test_a_vendors_own_already_installed_code_goes_the_delete_on_the_phone_way_when_listed(
    ctx: Context,
) -> None:
    with_smdp_settings(ctx, delete_on_device_codes=["8.2.1/3.3", "8.2.1/3.5", "8.2/3.3"])
    gateway = AnswersAlreadyInstalled()
    ctx.smdp["mts"] = gateway  # type: ignore[assignment]
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=INSTALLED)
    drain(ctx)

    cancellation, esim = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    step = profile_step(ctx, cancellation_id)
    assert (step.outcome, gateway.asked) == ("delete_on_device", 1)
    assert ctx.network.state(imsi=esim.imsi) is SubscriberState.REMOVED


def test_a_code_the_smdp_settings_do_not_list_fails_the_cancellation_for_staff(
    ctx: Context,
) -> None:
    gateway = AnswersAlreadyInstalled()
    ctx.smdp["mts"] = gateway  # type: ignore[assignment]
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=INSTALLED)
    drain(ctx)

    cancellation, _ = cancellation_and_esim(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.FAILED
    assert "8.2 / 3.3" in (cancellation.failure_reason or "")
    assert gateway.asked == 1


def test_an_smdp_whose_settings_drop_3_5_fails_on_it_instead(ctx: Context) -> None:
    """The list replaces the defaults: what an operator writes is what counts."""
    with_smdp_settings(ctx, delete_on_device_codes=["8.2.1/3.3"])
    link = ctx.policy("mts").smdp_link
    assert link.means_delete_on_device(StatusCode("8.2.1", "3.3"))
    assert not link.means_delete_on_device(StatusCode("8.2.1", "3.5"))
    assert not link.means_delete_on_device(None)


@pytest.mark.parametrize("bad", ["8.2.1-3.3", "8.2.1/", "x/3.3", 7])
def test_a_malformed_delete_on_device_code_is_refused_at_start(bad: object) -> None:
    with pytest.raises(ValueError, match="delete_on_device_codes"):
        SmdpLink.from_mapping({"delete_on_device_codes": [bad]})
