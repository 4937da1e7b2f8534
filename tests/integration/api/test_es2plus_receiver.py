"""The HandleDownloadProgressInfo receiver (SGP.22 v2.2 5.3.5): liberal in what it reads,
strict about who sends it, and every notification applied once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_support import assert_problem, esims
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from esimcare.audit.models import AuditEvent
from esimcare.context import Context
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.sandbox.cli import SIMULATOR_EID
from tests.support import emulator_signed_headers

URL = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"
EID = SIMULATOR_EID


def notification(iccid: str, point: int | str = 3, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "header": {
            "functionRequesterIdentifier": EMULATOR_REQUESTER_ID,
            "functionCallIdentifier": "call-1",
        },
        "iccid": iccid,
        "profileType": "mts-travel",
        "timestamp": "2026-11-23T12:00:00Z",
        "notificationPointId": point,
        "notificationPointStatus": {"status": "Executed-Success"},
    }
    body.update(changes)
    return body


@pytest.fixture
def released(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    return next(e for e in esims(client, "mts", auth) if e["profile_state"] == "released")


def profile_state(ctx: Context, iccid: str) -> str:
    with ctx.sessions() as session:
        esim = session.scalars(select(Esim).where(Esim.iccid == iccid)).one()
        return esim.profile_state.value


def notifications(ctx: Context) -> list[Es2PlusNotification]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Es2PlusNotification).order_by(Es2PlusNotification.id)))


def post(client: TestClient, body: object, url: str = URL) -> Any:
    """As the demo's emulator sends it: signed with the deployment's emulator key."""
    ctx: Context = client.app.state.ctx  # type: ignore[attr-defined]
    content = json.dumps(body).encode()
    return client.post(url, content=content, headers=emulator_signed_headers(ctx, content))


def test_a_download_notification_is_answered_204_with_an_empty_body(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    response = post(client, notification(released["iccid"]))
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["x-admin-protocol"].startswith("gsma/rsp/v2.")
    assert profile_state(demo, released["iccid"]) == "downloaded"


def test_point_four_installs_the_profile_and_records_the_eid(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    assert post(client, notification(released["iccid"], 4, eid=EID)).status_code == 204
    assert profile_state(demo, released["iccid"]) == "installed"
    with demo.sessions() as session:
        esim = session.scalars(select(Esim).where(Esim.iccid == released["iccid"])).one()
        assert esim.eid == EID


def test_a_failed_installation_is_an_error_and_keeps_the_code(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    status = {
        "status": "Failed",
        "statusCodeData": {"subjectCode": "8.2", "reasonCode": "4.2", "message": "no room"},
    }
    body = notification(released["iccid"], 4, notificationPointStatus=status)
    assert post(client, body).status_code == 204
    assert profile_state(demo, released["iccid"]) == "error"
    row = notifications(demo)[-1]
    assert (row.status, row.subject_code, row.reason_code) == ("Failed", "8.2", "4.2")


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param({"timeStamp": "2026-11-23T12:00:00Z", "timestamp": None}, id="timeStamp"),
        pytest.param({"timestamp": 1795435200}, id="epoch-seconds"),
        pytest.param({"timestamp": "1795435200"}, id="epoch-seconds-as-string"),
        pytest.param({"timestamp": "2026-11-23T15:00:00+03:00"}, id="offset"),
        pytest.param({"notificationPointId": "3"}, id="point-as-string"),
        pytest.param({"tac": "35209900", "imei": "352099001761481"}, id="extra-fields"),
        pytest.param({"notificationPointStatus": None}, id="no-point-status"),
    ],
)
def test_deviating_notifications_are_accepted(
    client: TestClient, released: dict[str, Any], demo: Context, variant: dict[str, Any]
) -> None:
    body = notification(released["iccid"])
    body.update(variant)
    body = {key: value for key, value in body.items() if value is not None}
    assert post(client, body).status_code == 204
    assert profile_state(demo, released["iccid"]) == "downloaded"


def test_an_f_padded_iccid_names_the_same_profile(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    assert post(client, notification(released["iccid"] + "F")).status_code == 204
    assert profile_state(demo, released["iccid"]) == "downloaded"


def test_the_same_notification_twice_is_recorded_and_audited_once(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    body = notification(released["iccid"])
    assert post(client, body).status_code == 204
    padded = notification(released["iccid"] + "F", notificationPointId="3")
    assert post(client, padded).status_code == 204
    assert len(notifications(demo)) == 1
    with demo.sessions() as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "es2plus.notification")
        )
    assert audited == 1


def test_an_unknown_iccid_is_recorded_and_answered(client: TestClient, demo: Context) -> None:
    assert post(client, notification("8999001000000000017")).status_code == 204
    row = notifications(demo)[-1]
    assert (row.iccid, row.effect, row.esim_id) == ("8999001000000000017", "unknown_iccid", None)


def test_a_notification_from_another_requester_is_forbidden(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    body = notification(released["iccid"])
    body["header"]["functionRequesterIdentifier"] = "someone-else"
    assert_problem(post(client, body), 403, "unknown-requester")
    assert notifications(demo) == []
    assert profile_state(demo, released["iccid"]) == "released"


def test_a_notification_without_a_header_has_no_requester_and_is_forbidden(
    client: TestClient, released: dict[str, Any]
) -> None:
    body = notification(released["iccid"])
    del body["header"]
    assert_problem(post(client, body), 403, "unknown-requester")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(client: TestClient, body: bytes) -> None:
    ctx: Context = client.app.state.ctx  # type: ignore[attr-defined]
    response = client.post(URL, content=body, headers=emulator_signed_headers(ctx, body))
    assert_problem(response, 400, "malformed-notification")


@pytest.mark.parametrize("missing", ["iccid", "notificationPointId", "timestamp"])
def test_a_notification_missing_a_mandatory_field_is_400(
    client: TestClient, released: dict[str, Any], demo: Context, missing: str
) -> None:
    body = notification(released["iccid"])
    del body[missing]
    assert_problem(post(client, body), 400, "malformed-notification")
    assert notifications(demo) == []


def test_an_unknown_operator_is_404(client: TestClient, released: dict[str, Any]) -> None:
    url = URL.replace("/mts/", "/nobody/")
    assert_problem(post(client, notification(released["iccid"]), url), 404, "not-found")


def test_a_late_download_point_never_moves_an_installed_profile_back(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    assert post(client, notification(released["iccid"], 4)).status_code == 204
    late = notification(released["iccid"], 3, timestamp="2026-11-23T11:50:00Z")
    assert post(client, late).status_code == 204
    assert profile_state(demo, released["iccid"]) == "installed"
    assert notifications(demo)[-1].effect == "unchanged"


def test_a_deleted_profile_stays_deleted_and_both_times_are_kept(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    assert post(client, notification(released["iccid"], 4)).status_code == 204
    deleted = notification(released["iccid"], 102, timestamp="2026-11-23T11:00:00Z")
    assert post(client, deleted).status_code == 204
    again = notification(released["iccid"], 4, timestamp="2026-11-23T11:30:00Z")
    assert post(client, again).status_code == 204
    with demo.sessions() as session:
        esim = session.scalars(select(Esim).where(Esim.iccid == released["iccid"])).one()
        assert esim.profile_state.value == "deleted"
        assert esim.deleted_on_device_at == demo.clock.now()  # when we heard it
    claimed = [row.notified_at.hour for row in notifications(demo) if row.point_id == 102]
    assert claimed == [11]  # what the SM-DP+ said, kept on its notification


def test_the_disabled_point_disables_an_installed_profile(
    client: TestClient, released: dict[str, Any], demo: Context
) -> None:
    assert post(client, notification(released["iccid"], 4)).status_code == 204
    assert post(client, notification(released["iccid"], 101)).status_code == 204
    assert profile_state(demo, released["iccid"]) == "disabled"
