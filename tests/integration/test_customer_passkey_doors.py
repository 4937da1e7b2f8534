"""The portal's and the API's passkey doors: JSON for the browser script and for API clients,
problem+json for the API's refusals."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from portal_support import csrf, esim_ids, hidden, log_in, portal_client

from esimcare.app import create_app
from esimcare.context import Context
from esimcare.kit.webauthn_ceremony import RelyingParty
from tests.integration.software_authenticator import SoftwareAuthenticator

ANNA = "+79160000001"


def _device(ctx: Context) -> SoftwareAuthenticator:
    party = RelyingParty.for_site(ctx.settings.public_url)
    return SoftwareAuthenticator(party.rp_id, party.origin)


def _portal_register(client: TestClient, device: SoftwareAuthenticator) -> str:
    token = csrf(client.get("/mts/account/passkeys").text)
    options = client.post("/mts/account/passkeys/options", data={"csrf": token}).json()
    answer = json.dumps(device.create(options))
    added = client.post(
        "/mts/account/passkeys", data={"csrf": token, "credential": answer, "label": "Pixel"}
    )
    assert added.json() == {"next": "/mts/account/passkeys?done=added"}
    return token


def test_the_portal_adds_a_passkey_logs_in_with_it_and_confirms_a_cancellation(
    demo: Context,
) -> None:
    device = _device(demo)
    client = portal_client(demo)
    log_in(client, "mts")
    _portal_register(client, device)
    assert "Pixel" in client.get("/mts/account/passkeys").text
    fresh = portal_client(demo)
    token = csrf(fresh.get("/mts/login").text)
    options = fresh.post("/mts/login/passkey/options", data={"csrf": token}).json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    answer = json.dumps(device.get(options))
    logged_in = fresh.post("/mts/login/passkey", data={"csrf": token, "credential": answer})
    assert logged_in.json() == {"next": "/mts/esims"}
    esim_id = esim_ids(fresh, "mts")[0]
    page = fresh.get(f"/mts/esims/{esim_id}/cancel")
    started = fresh.post(
        f"/mts/esims/{esim_id}/cancel",
        data={"csrf": csrf(page.text), "reason": "not_needed",
              "form_token": hidden(page.text, "form_token")},
        follow_redirects=False,
    )  # fmt: skip
    verify_url = started.headers["location"]
    verify_page = fresh.get(verify_url).text
    assert 'id="passkey-verify"' in verify_page
    token = csrf(verify_page)
    options = fresh.post(f"{verify_url}/passkey/options", data={"csrf": token}).json()
    answer = json.dumps(device.get(options))
    confirmed = fresh.post(f"{verify_url}/passkey", data={"csrf": token, "credential": answer})
    status_url = verify_url.removesuffix("/verify")
    assert confirmed.json() == {"next": status_url}
    assert "Waiting for your confirmation" not in fresh.get(status_url).text


def test_a_stale_session_adds_a_passkey_only_with_the_password(demo: Context) -> None:
    client = portal_client(demo)
    log_in(client, "mts")
    demo.clock.advance(timedelta(minutes=6))  # type: ignore[attr-defined]
    page = client.get("/mts/account/passkeys").text
    assert 'id="passkey-password"' in page
    token = csrf(page)
    refused = client.post("/mts/account/passkeys/options", data={"csrf": token})
    assert refused.status_code == 403 and "error" in refused.json()
    wrong = client.post("/mts/account/passkeys/options", data={"csrf": token, "password": "x"})
    assert wrong.status_code == 422
    right = client.post(
        "/mts/account/passkeys/options", data={"csrf": token, "password": "demo-password-1"}
    )
    assert right.status_code == 200 and right.json()["rp"]["id"] == "127.0.0.1"


def test_the_api_confirms_with_a_passkey_and_answers_problems(demo: Context) -> None:
    device = _device(demo)
    portal = portal_client(demo)
    log_in(portal, "mts")
    _portal_register(portal, device)
    with TestClient(create_app(demo)) as client:
        login = client.post(
            "/api/v1/mts/sessions", json={"login": ANNA, "password": "demo-password-1"}
        )
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        esim_id = client.get("/api/v1/mts/esims", headers=auth).json()["items"][0]["id"]
        created = client.post(
            f"/api/v1/mts/esims/{esim_id}/cancellations",
            json={"reason": "not_needed"},
            headers={**auth, "Idempotency-Key": "passkey-test-1"},
        ).json()
        assert "passkey" in created["verification"]["methods"]
        base = f"/api/v1/mts/cancellations/{created['id']}"
        options = client.post(f"{base}/passkey-options", headers=auth).json()
        phished = device.get(options, origin="https://evil.example")
        refused = client.post(
            f"{base}/verification", json={"method": "passkey", "credential": phished}, headers=auth
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "passkey-rejected"
        options = client.post(f"{base}/passkey-options", headers=auth).json()
        answer = device.get(options)
        verified = client.post(
            f"{base}/verification", json={"method": "passkey", "credential": answer}, headers=auth
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["status"] in ("scheduled", "processing")
        schema = client.get("/api/openapi.json").json()
        assert (
            "/api/v1/{operator}/cancellations/{cancellation_id}/passkey-options"
            in (schema["paths"])
        )
