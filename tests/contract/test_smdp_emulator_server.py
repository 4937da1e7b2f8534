"""The SM-DP+ emulator's HTTP face: strict ES2+ requests, the phone simulator, notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from esimcare.integrations.smdp.notification_signature import (
    key_path,
    load_or_create_key,
    signature_is_valid,
)
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.notifications import NotificationSender
from esimcare.sandbox.smdp_emulator.server import create_emulator_app, mount_emulator
from esimcare.sandbox.smdp_emulator.support import ProfileSnapshot
from esimcare.sandbox.store import EmulatorStore
from tests.contract.conftest import ServeAsgi
from tests.contract.es2plus_support import Recorder

EID = Eid.from_body("89049032" + "0" * 21 + "7").value
HEADER = {"functionRequesterIdentifier": "op", "functionCallIdentifier": "call-1"}
NOTIFICATION_PATH = "/gsma/rsp2/es2plus/handleDownloadProgressInfo"


class Receiver:
    """The operator's notification receiver, reduced to a list; answers 204 as 5.3.5 says."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.recorder = Recorder(
            Starlette(routes=[Route(NOTIFICATION_PATH, self.receive, methods=["POST"])])
        )

    async def receive(self, request: Request) -> Response:
        self.received.append(await request.json())
        return Response(status_code=204)

    def points(self) -> list[int]:
        return [n["notificationPointId"] for n in self.received]


@pytest.fixture
def smdp(emulator_store: EmulatorStore, clock: FrozenClock) -> SmdpEmulator:
    emulator = SmdpEmulator(emulator_store, clock)
    emulator.generate_inventory("consumer", 3)
    return emulator


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def base_url(
    serve_asgi: ServeAsgi,
    smdp: SmdpEmulator,
    receiver: Receiver,
    http_client: httpx.Client,
    clock: FrozenClock,
) -> str:
    notify = NotificationSender(
        serve_asgi(receiver.recorder), "smdp.test", http_client, clock=clock
    )
    return serve_asgi(create_emulator_app(smdp, notify=notify))


def post(client: httpx.Client, url: str, body: object) -> httpx.Response:
    return client.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"})


def es2(client: httpx.Client, base_url: str, function: str, **fields: object) -> dict[str, Any]:
    response = post(
        client, f"{base_url}/gsma/rsp2/es2plus/{function}", {"header": HEADER, **fields}
    )
    assert response.status_code == 200
    assert response.headers["x-admin-protocol"] == "gsma/rsp/v2.5.0"
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


def status_of(reply: dict[str, Any]) -> tuple[str, str | None, str | None]:
    execution = reply["header"]["functionExecutionStatus"]
    code = execution.get("statusCodeData", {})
    return execution["status"], code.get("subjectCode"), code.get("reasonCode")


def released(client: httpx.Client, base_url: str, smdp: SmdpEmulator) -> tuple[str, str]:
    iccid = es2(client, base_url, "downloadOrder", profileType="consumer")["iccid"]
    es2(client, base_url, "confirmOrder", iccid=iccid, releaseFlag=True)
    return iccid, smdp.activation_code(iccid)


def test_a_success_and_a_failure_are_both_http_200_with_the_call_id_kept(
    http_client: httpx.Client, base_url: str, smdp: SmdpEmulator
) -> None:
    ok = es2(http_client, base_url, "downloadOrder", profileType="consumer")
    refused = es2(http_client, base_url, "releaseProfile", iccid=ok["iccid"])

    assert status_of(ok) == ("Executed-Success", None, None)
    assert status_of(refused) == ("Failed", "8.2.1", "3.5")
    assert [c.function_call_id for c in smdp.calls()] == ["call-1", "call-1"]


def test_download_order_on_the_wire_carries_only_es2plus_outputs(
    http_client: httpx.Client, base_url: str
) -> None:
    """The inventory's IMSI stays in the emulator: ES2+ (5.3.1) answers with the ICCID only."""
    ok = es2(http_client, base_url, "downloadOrder", profileType="consumer")
    assert set(ok) == {"header", "iccid"}


@pytest.mark.parametrize(
    ("function", "fields", "code"),
    [
        ("releaseProfile", {}, ("8.2.1", "2.2")),
        ("releaseProfile", {"iccid": 8999}, ("8.2.1", "2.1")),
        ("confirmOrder", {"iccid": "89990010000000000014"}, ("8.2", "2.2")),
        ("confirmOrder", {"iccid": "8999001000000000001", "releaseFlag": "true"}, ("8.2", "2.1")),
        ("confirmOrder", {"iccid": "x", "releaseFlag": True, "eid": 1}, ("8.1.1", "2.1")),
        ("cancelOrder", {"iccid": "8999001000000000001"}, ("8.2", "2.2")),
        ("cancelOrder", {"iccid": "x", "finalProfileStatusIndicator": "Gone"}, ("8.2", "2.1")),
        ("downloadOrder", {}, ("8.2.5", "2.3")),
        ("downloadOrder", {"profileType": 7}, ("8.2.5", "2.1")),
    ],
)
def test_a_malformed_field_is_answered_failed_with_its_subject(
    function: str,
    fields: dict[str, object],
    code: tuple[str, str],
    http_client: httpx.Client,
    base_url: str,
) -> None:
    assert status_of(es2(http_client, base_url, function, **fields)) == ("Failed", *code)


@pytest.mark.parametrize(
    "header",
    [None, {"functionCallIdentifier": "c"}, {"functionRequesterIdentifier": "op"}],
)
def test_a_missing_header_element_is_answered_1_1_slash_2_2(
    header: dict[str, str] | None, http_client: httpx.Client, base_url: str, smdp: SmdpEmulator
) -> None:
    body = {"profileType": "consumer"} | ({} if header is None else {"header": header})
    reply = post(http_client, f"{base_url}/gsma/rsp2/es2plus/downloadOrder", body).json()

    assert status_of(reply) == ("Failed", "1.1", "2.2")
    assert smdp.calls() == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_a_body_that_is_no_json_object_is_400(
    body: bytes, http_client: httpx.Client, base_url: str
) -> None:
    response = http_client.post(f"{base_url}/gsma/rsp2/es2plus/cancelOrder", content=body)

    assert response.status_code == 400
    assert response.headers["x-admin-protocol"] == "gsma/rsp/v2.5.0"


def test_the_phone_downloads_and_installs_and_the_operator_hears_points_1_3_4(
    http_client: httpx.Client, base_url: str, smdp: SmdpEmulator, receiver: Receiver
) -> None:
    iccid, code = released(http_client, base_url, smdp)

    download = post(
        http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID}
    )
    install = post(http_client, f"{base_url}/simulator/install", {"iccid": iccid})

    assert download.json()["state"] == "Downloaded"
    assert [n["point"] for n in download.json()["notifications"]] == [1, 3]
    assert install.json() == {
        "iccid": iccid,
        "state": "Installed",
        "notifications": [{"point": 4, "delivered": True, "detail": ""}],
    }
    assert receiver.points() == [1, 3, 4]
    first = receiver.received[0]
    assert first["header"]["functionRequesterIdentifier"] == "smdp.test"
    assert len({n["header"]["functionCallIdentifier"] for n in receiver.received}) == 3
    assert first | {"header": None} == {
        "header": None,
        "eid": EID,
        "iccid": iccid,
        "profileType": "consumer",
        "timestamp": "2026-03-01T09:00:00Z",
        "notificationPointId": 1,
        "notificationPointStatus": {"status": "Executed-Success"},
    }
    sent = receiver.recorder.requests[0]
    assert sent.headers["x-admin-protocol"] == "gsma/rsp/v2.5.0"
    assert sent.headers["content-type"] == "application/json"


def test_a_failed_installation_is_point_4_failed_and_the_profile_in_error(
    http_client: httpx.Client, base_url: str, smdp: SmdpEmulator, receiver: Receiver
) -> None:
    iccid, code = released(http_client, base_url, smdp)
    post(http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID})

    reply = post(http_client, f"{base_url}/simulator/install", {"iccid": iccid, "success": False})

    assert reply.json()["state"] == "Error"
    status = receiver.received[-1]["notificationPointStatus"]
    assert status["status"] == "Failed"
    assert (status["statusCodeData"]["subjectCode"], status["statusCodeData"]["reasonCode"]) == (
        "8.2",
        "4.2",
    )


def test_deleting_and_disabling_on_the_phone_send_the_custom_points(
    http_client: httpx.Client, base_url: str, smdp: SmdpEmulator, receiver: Receiver
) -> None:
    iccid, code = released(http_client, base_url, smdp)
    post(http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID})
    post(http_client, f"{base_url}/simulator/install", {"iccid": iccid})

    disabled = post(http_client, f"{base_url}/simulator/disable", {"iccid": iccid})
    deleted = post(http_client, f"{base_url}/simulator/delete", {"iccid": iccid + "F"})

    assert (disabled.status_code, deleted.status_code) == (200, 200)
    assert receiver.points() == [1, 3, 4, 101, 102]
    snapshot = smdp.profile(iccid)
    assert snapshot is not None and snapshot.state is SmdpProfileState.INSTALLED
    assert snapshot.deleted_on_device_at is not None
    assert smdp.calls()[-1].function is SmdpFunction.DEVICE_DELETION
    again = post(http_client, f"{base_url}/simulator/disable", {"iccid": iccid})
    assert again.status_code == 409


def test_a_refused_download_is_409_with_the_code_and_sends_nothing(
    http_client: httpx.Client, base_url: str, receiver: Receiver
) -> None:
    reply = post(
        http_client, f"{base_url}/simulator/download", {"activationCode": "NOPE", "eid": EID}
    )

    assert reply.status_code == 409
    assert reply.json()["code"] == "8.2.6/3.8"
    assert receiver.received == []


def test_a_bad_simulator_body_is_400(http_client: httpx.Client, base_url: str) -> None:
    reply = post(http_client, f"{base_url}/simulator/install", {"iccid": 42})

    assert reply.status_code == 400


def test_an_unreachable_receiver_never_fails_the_phone(
    serve_asgi: ServeAsgi,
    smdp: SmdpEmulator,
    http_client: httpx.Client,
    closed_port_url: str,
) -> None:
    notify = NotificationSender(closed_port_url, "smdp.test", http_client)
    base_url = serve_asgi(create_emulator_app(smdp, notify=notify))
    _, code = released(http_client, base_url, smdp)

    reply = post(
        http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID}
    )

    assert reply.status_code == 200
    assert [n["delivered"] for n in reply.json()["notifications"]] == [False, False]


def test_without_a_receiver_no_notification_is_sent_and_profiles_can_be_read(
    serve_asgi: ServeAsgi, smdp: SmdpEmulator, http_client: httpx.Client
) -> None:
    app = Starlette()
    mount_emulator(app, smdp)
    base_url = serve_asgi(app) + "/smdp-emulator"
    iccid, code = released(http_client, base_url, smdp)

    reply = post(
        http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID}
    )
    profile = http_client.get(f"{base_url}/simulator/profiles/{iccid}")
    unknown = http_client.get(f"{base_url}/simulator/profiles/0000")

    assert reply.json()["notifications"] == []
    assert profile.json()["state"] == "Downloaded" and profile.json()["eid"] == EID
    assert unknown.status_code == 404


def test_custom_points_must_be_100_or_above(http_client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="100"):
        NotificationSender("http://127.0.0.1:1", "smdp.test", http_client, deleted_point=5)


def test_a_shared_emulator_routes_each_profile_to_its_operator(
    serve_asgi: ServeAsgi, smdp: SmdpEmulator, receiver: Receiver, http_client: httpx.Client
) -> None:
    receiver_url = serve_asgi(receiver.recorder)
    (other,) = smdp.generate_inventory("other", 1, iccid_prefix="89990020")

    def route(profile: ProfileSnapshot) -> str | None:
        return receiver_url if profile.iccid.startswith("89990010") else None

    notify = NotificationSender(route, "smdp.test", http_client)
    base_url = serve_asgi(create_emulator_app(smdp, notify=notify))
    iccid, code = released(http_client, base_url, smdp)
    es2(http_client, base_url, "downloadOrder", iccid=other)
    es2(http_client, base_url, "confirmOrder", iccid=other, releaseFlag=True)

    mine = post(http_client, f"{base_url}/simulator/download", {"activationCode": code, "eid": EID})
    theirs = post(
        http_client,
        f"{base_url}/simulator/download",
        {"activationCode": smdp.activation_code(other), "eid": EID},
    )

    assert [n["delivered"] for n in mine.json()["notifications"]] == [True, True]
    assert [n["delivered"] for n in theirs.json()["notifications"]] == [False, False]
    assert {n["iccid"] for n in receiver.received} == {iccid}


def test_with_a_key_each_notification_is_signed_over_its_exact_body(
    serve_asgi: ServeAsgi,
    smdp: SmdpEmulator,
    receiver: Receiver,
    http_client: httpx.Client,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    key = load_or_create_key(key_path(tmp_path))
    assert key == load_or_create_key(key_path(tmp_path))  # one key per data directory
    assert (key_path(tmp_path).stat().st_mode & 0o777) == 0o600
    notify = NotificationSender(
        serve_asgi(receiver.recorder), "smdp.test", http_client, clock=clock, signing_key=key
    )
    base_url = serve_asgi(create_emulator_app(smdp, notify=notify))
    _, code = released(http_client, base_url, smdp)
    http_client.post(f"{base_url}/simulator/download", json={"activationCode": code, "eid": EID})

    sent = [r for r in receiver.recorder.requests if r.path == NOTIFICATION_PATH]
    assert [json.loads(r.body)["notificationPointId"] for r in sent] == [1, 3]
    for request in sent:
        headers = httpx.Headers(request.headers)
        assert headers["content-type"] == "application/json"
        assert signature_is_valid(key, headers, request.body, clock.now())
        assert not signature_is_valid(b"other", headers, request.body, clock.now())
        assert not signature_is_valid(key, headers, request.body + b" ", clock.now())
