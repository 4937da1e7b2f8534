"""security.md: an SMS code to a number that was only just put on a phone does not confirm a
cancellation (an eSIM swap may have put it in other hands); a stronger method still does."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from esimcare.app import create_app
from esimcare.cancellations import service
from esimcare.cancellations.verification_methods import SmsNotTrustedError
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import MethodNotAllowedError
from esimcare.esims.models import Esim
from esimcare.esims.states import ProfileState
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.kit.clock import iso
from esimcare.operators.policy import VerificationMethod
from tests.support import customer, emulator_signed_headers


def installed_days_ago(ctx: Context, msisdn: str, days: float) -> int:
    with transaction(ctx.sessions) as session:
        esim = session.scalar(select(Esim).where(Esim.msisdn == msisdn))
        assert esim is not None
        esim.installed_at = ctx.clock.now() - timedelta(days=days)
        return esim.id


def test_sms_only_operator_refuses_while_the_number_is_new_on_a_phone(demo: Context) -> None:
    esim_id = installed_days_ago(demo, "+79160000001", 1)
    anna = customer(demo, "mts", "+79160000001")
    with transaction(demo.sessions) as session, pytest.raises(SmsNotTrustedError) as refused:
        service.request_cancellation(session, demo, anna, esim_id, reason="not_needed")
    assert refused.value.status == 403
    assert refused.value.extra["sms_trusted_from"].startswith("2026-11-29")


def test_after_the_window_sms_confirms_again(demo: Context) -> None:
    esim_id = installed_days_ago(demo, "+79160000001", 8)
    anna = customer(demo, "mts", "+79160000001")
    with transaction(demo.sessions) as session:
        requested = service.request_cancellation(session, demo, anna, esim_id, reason="other")
    assert requested.methods == (VerificationMethod.SMS,)
    assert requested.code is not None


def test_with_a_password_offered_only_the_password_remains(demo: Context) -> None:
    esim_id = installed_days_ago(demo, "+79030000001", 2)
    li = customer(demo, "beeline", "+79030000001")
    with transaction(demo.sessions) as session:
        requested = service.request_cancellation(
            session, demo, li, esim_id, reason="not_needed", refund_to="+79031112233"
        )
        cancellation_id = requested.cancellation.id
    assert requested.methods == (VerificationMethod.PASSWORD,)
    assert requested.code is None
    with transaction(demo.sessions) as session, pytest.raises(MethodNotAllowedError):
        service.verify(
            session,
            demo,
            session.get(Customer, li.id),
            cancellation_id,  # type: ignore[arg-type]
            method="sms",
            secret="123456",
        )
    with transaction(demo.sessions) as session:
        verified = service.verify(
            session,
            demo,
            session.get(Customer, li.id),
            cancellation_id,  # type: ignore[arg-type]
            method="password",
            secret="demo-password-1",
        )
    assert verified.status.value == "scheduled"


def test_an_install_notification_from_the_smdp_starts_the_window(demo: Context) -> None:
    with transaction(demo.sessions) as session:
        # A new profile for the number, just released, as after a SIM swap at the operator.
        session.execute(
            update(Esim)
            .where(Esim.msisdn == "+79160000001")
            .values(installed_at=None, profile_state=ProfileState.RELEASED, eid=None)
        )
        iccid = session.scalar(select(Esim.iccid).where(Esim.msisdn == "+79160000001"))
    body = {
        "header": {
            "functionRequesterIdentifier": EMULATOR_REQUESTER_ID,
            "functionCallIdentifier": "swap-1",
        },
        "iccid": iccid,
        "profileType": "mts-consumer",
        "timestamp": iso(demo.clock.now()),
        "notificationPointId": 4,
        "notificationPointStatus": {"status": "Executed-Success"},
    }
    content = json.dumps(body).encode()
    with TestClient(create_app(demo)) as client:
        answer = client.post(
            "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo",
            content=content,
            headers=emulator_signed_headers(demo, content),
        )
        assert answer.status_code == 204
        token = client.post(
            "/api/v1/mts/sessions",
            json={"login": "anna@example.com", "password": "demo-password-1"},
        ).json()["token"]
        esims = client.get("/api/v1/mts/esims", headers={"authorization": f"Bearer {token}"})
        esim_id = next(e["id"] for e in esims.json()["items"] if e["iccid"] == iccid)
        refused = client.post(
            f"/api/v1/mts/esims/{esim_id}/cancellations",
            headers={"authorization": f"Bearer {token}", "idempotency-key": "k1"},
            json={"reason": "not_needed"},
        )
    assert refused.status_code == 403
    assert refused.json()["code"] == "sms-not-trusted"
