"""End to end on the demo, served by uvicorn on loopback with its worker thread and the real
clock: order -> QR -> phone simulator installs -> cancel -> phone simulator deletes, seen in
the API and the portal; and an order cancelled before any download."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from portal_support import log_in as portal_log_in
from portal_support import portal_client, text_of

from esimcare.app import create_app
from esimcare.cli import main
from esimcare.config import Mode, Settings
from esimcare.context import Context
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.kit.clock import SystemClock
from esimcare.runtime import build_context, prepare_database
from esimcare.sandbox.demo_data import seed_demo, write_demo_operators_file
from esimcare.sandbox.stand_ins import smdp_emulator_of, stand_ins_of

ANNA = "+79160000001"
PASSWORD = "demo-password-1"
DEADLINE_S = 30


@dataclass
class Demo:
    ctx: Context
    base: str
    http: httpx.Client
    auth: dict[str, str]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.http.request(method, f"/api/v1/mts{path}", headers=headers, **kwargs)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Demo]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings.from_env(
        data_dir=tmp_path, mode=Mode.DEVELOPMENT, secret_key=b"e2e", public_url=base,
        job_poll_s=0.05,
    )  # fmt: skip
    write_demo_operators_file(settings.operators_file)
    ctx = build_context(settings, SystemClock())
    prepare_database(ctx)
    seed_demo(ctx)
    config = uvicorn.Config(
        create_app(ctx, run_worker=True), lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _until(lambda: server.started, "the server did not start")
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post("/api/v1/mts/sessions", json={"login": ANNA, "password": PASSWORD})
        token = login.json()["token"]
        yield Demo(ctx, base, http, {"Authorization": f"Bearer {token}"})
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()
    ctx.engine.dispose()
    stand_ins_of(ctx).close()
    assert not thread.is_alive(), "the demo server did not stop"


def _until(condition: Callable[[], object], message: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.05)


def order(demo: Demo, plan: str) -> dict[str, Any]:
    response = demo.api("POST", "/esims", json={"plan": plan}, headers={"Idempotency-Key": plan})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def cancel(demo: Demo, esim_id: int) -> int:
    created = demo.api(
        "POST", f"/esims/{esim_id}/cancellations", json={"reason": "not_needed"},
        headers={"Idempotency-Key": f"cancel-{esim_id}"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    cancellation_id = int(created.json()["id"])
    outbox = demo.http.get("/api/v1/dev/outbox", params={"to": ANNA}).json()["items"]
    code = next(m for m in (re.search(r"\b\d{6}\b", i["body"]) for i in outbox) if m).group()
    verified = demo.api(
        "POST", f"/cancellations/{cancellation_id}/verification",
        json={"method": "sms", "code": code},
    )  # fmt: skip
    assert verified.status_code == 200, verified.text
    _until(
        lambda: cancellation(demo, cancellation_id)["status"] == "completed",
        "the cancellation did not complete",
    )
    return cancellation_id


def cancellation(demo: Demo, cancellation_id: int) -> dict[str, Any]:
    body: dict[str, Any] = demo.api("GET", f"/cancellations/{cancellation_id}").json()
    return body


def phone(demo: Demo, *args: str) -> int:
    return main(["phone", *args, "--emulator-url", f"{demo.base}/smdp-emulator"])


def test_order_install_cancel_and_delete_are_seen_in_the_api_and_the_portal(
    served: Demo,
) -> None:
    ordered = order(served, "smart")
    qr = served.api("GET", f"/esims/{ordered['id']}/activation-qr.png")
    assert qr.content.startswith(b"\x89PNG")

    assert phone(served, "install", ordered["activation_code"]) == 0
    esim = served.api("GET", f"/esims/{ordered['id']}").json()
    assert esim["profile_state"] == "installed"

    cancellation_id = cancel(served, ordered["id"])
    waiting = cancellation(served, cancellation_id)
    assert waiting["device_profile"]["state"] == "waiting_for_deletion"
    assert "delete_on_device" in {step["outcome"] for step in waiting["steps"]}

    assert phone(served, "delete", ordered["iccid"]) == 0
    esim = served.api("GET", f"/esims/{ordered['id']}").json()
    assert (esim["status"], esim["profile_state"]) == ("cancelled", "deleted")
    deleted = cancellation(served, cancellation_id)["device_profile"]
    assert deleted["state"] == "deleted" and deleted["deleted_at"]

    browser = portal_client(served.ctx, "en")
    portal_log_in(browser, "mts")
    page = text_of(browser.get(f"/mts/cancellations/{cancellation_id}").text)
    assert "The eSIM profile was deleted on your phone on" in page
    assert "Deleted from the phone" in text_of(browser.get(f"/mts/esims/{ordered['id']}").text)


def test_an_order_cancelled_before_download_is_cancelled_at_the_smdp(served: Demo) -> None:
    ordered = order(served, "travel")
    cancellation_id = cancel(served, ordered["id"])

    emulator = smdp_emulator_of(served.ctx)
    assert emulator is not None
    calls = [call.function for call in emulator.calls(ordered["iccid"])]
    assert calls[-1] is SmdpFunction.CANCEL_ORDER
    profile = emulator.profile(ordered["iccid"])
    assert profile is not None and profile.state is SmdpProfileState.UNAVAILABLE
    body = cancellation(served, cancellation_id)
    assert "cancelled_at_smdp" in {step["outcome"] for step in body["steps"]}
    assert body["device_profile"] is None
    esim = served.api("GET", f"/esims/{ordered['id']}").json()
    assert esim["profile_state"] == "unavailable"


def test_a_forged_notification_to_the_served_demo_is_403_and_the_phone_still_works(
    served: Demo,
) -> None:
    """Issue 7: what `curl -X POST .../handleDownloadProgressInfo` with the emulator's public
    requester id gets; the phone simulator's own (signed) notifications still count."""
    ordered = order(served, "smart")
    forged = served.http.post(
        "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo",
        json={
            "header": {"functionRequesterIdentifier": "smdp-emulator.esimcare.test"},
            "iccid": ordered["iccid"],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "notificationPointId": 4,
            "notificationPointStatus": {"status": "Executed-Success"},
        },
    )
    assert forged.status_code == 403
    assert served.api("GET", f"/esims/{ordered['id']}").json()["profile_state"] == "released"
    assert phone(served, "install", ordered["activation_code"]) == 0
    assert served.api("GET", f"/esims/{ordered['id']}").json()["profile_state"] == "installed"
