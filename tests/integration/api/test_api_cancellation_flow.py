"""The three demo operators' cancellations, driven through the REST API only."""

from __future__ import annotations

from api_support import (
    LOGINS,
    assert_problem,
    installed_esim,
    latest_code,
    log_in,
    request_cancellation,
    row_counts,
    verify,
)
from fastapi.testclient import TestClient

from esimcare.context import Context
from esimcare.runtime import build_worker


def test_an_mts_cancellation_completes_with_the_quoted_refund(
    client: TestClient, demo: Context
) -> None:
    auth = log_in(client, "mts")
    esim = installed_esim(client, "mts", auth)
    quote = client.post(f"/api/v1/mts/esims/{esim['id']}/cancellation-quote", headers=auth)
    assert quote.status_code == 200, quote.text

    created = request_cancellation(client, "mts", auth, esim["id"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "awaiting_verification"
    assert body["verification"] == {
        "methods": ["sms"],
        "sms_sent_to": "+7********01",
        "sms_delivery": None,
    }
    assert body["quote"] == quote.json()

    verified = verify(
        client, "mts", auth, body["id"], method="sms", code=latest_code(client, LOGINS["mts"])
    )
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"status": "processing"}
    build_worker(demo).run_until_idle()

    done = client.get(f"/api/v1/mts/cancellations/{body['id']}", headers=auth).json()
    assert done["status"] == "completed"
    assert [(s["name"], s["status"]) for s in done["steps"]] == [
        ("final_bill", "done"),
        ("profile", "done"),
        ("network", "done"),
        ("refund", "done"),
        ("notice", "done"),
    ]
    assert done["refund"]["amount"] == quote.json()["refund"]["amount"]
    assert done["refund"]["status"] == "succeeded"
    assert done["final_bill"]["amount"] == quote.json()["final_bill"]["amount"]
    assert done["completed_at"].endswith("Z")
    assert done["device_instructions"]["ios"]
    after = client.get(f"/api/v1/mts/esims/{esim['id']}", headers=auth).json()
    assert after["status"] == "cancelled"
    assert after["balance"]["cash"] == {"amount": "0.00", "currency": "RUB"}


def test_a_quote_changes_nothing(client: TestClient, demo: Context) -> None:
    auth = log_in(client, "mts")
    esim = installed_esim(client, "mts", auth)
    before = row_counts(demo)
    response = client.post(f"/api/v1/mts/esims/{esim['id']}/cancellation-quote", headers=auth)
    assert response.status_code == 200
    assert row_counts(demo) == before


def test_a_quote_is_worded_in_the_requested_language(client: TestClient) -> None:
    auth = log_in(client, "mts")
    esim = installed_esim(client, "mts", auth)
    quote = client.post(
        f"/api/v1/mts/esims/{esim['id']}/cancellation-quote",
        headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"},
    ).json()
    codes = [w["code"] for w in quote["warnings"]]
    assert "delete_profile_on_device" in codes
    assert all(w["message"] != w["code"] for w in quote["warnings"])
    assert "手机" in next(
        w["message"] for w in quote["warnings"] if w["code"] == "delete_profile_on_device"
    )
    assert quote["effective_at"] == "2026-11-23T12:00:00Z"


def test_the_esim_list_shows_plan_names_in_the_requested_language(client: TestClient) -> None:
    auth = log_in(client, "mts")
    response = client.get("/api/v1/mts/esims", headers={**auth, "Accept-Language": "ru"})
    items = response.json()["items"]
    assert {item["plan"]["name"] for item in items} == {"Smart", "Путешествия"}
    assert {item["profile_state"] for item in items} == {"installed", "released"}
    assert items[0]["plan"]["monthly_fee"]["currency"] == "RUB"
    english = client.get("/api/v1/mts/esims", headers=auth).json()["items"]
    assert {item["plan"]["name"] for item in english} == {"Smart", "Travel"}


def test_cancellation_reasons_are_the_operators_own(client: TestClient) -> None:
    response = client.get("/api/v1/beeline/cancellation-reasons", headers={"Accept-Language": "ru"})
    assert response.status_code == 200
    assert {"code": "too_expensive", "label": "Слишком дорого"} in response.json()["items"]


def test_a_beeline_cancellation_verified_by_password_can_be_undone_once(
    client: TestClient,
) -> None:
    auth = log_in(client, "beeline")
    esim = installed_esim(client, "beeline", auth)
    created = request_cancellation(client, "beeline", auth, esim["id"], refund_to="+79031234567")
    assert created.status_code == 201, created.text
    assert created.json()["verification"]["methods"] == ["sms", "password"]
    cancellation_id = created.json()["id"]

    verified = verify(
        client, "beeline", auth, cancellation_id, method="password", password="demo-password-1"
    )
    assert verified.json() == {"status": "scheduled"}
    pending = client.get(f"/api/v1/beeline/esims/{esim['id']}", headers=auth).json()
    assert pending["status"] == "cancellation_pending"

    undone = client.post(f"/api/v1/beeline/cancellations/{cancellation_id}/undo", headers=auth)
    assert undone.json() == {"status": "undone"}
    again = client.post(f"/api/v1/beeline/cancellations/{cancellation_id}/undo", headers=auth)
    assert_problem(again, 409, "invalid-transition")
    restored = client.get(f"/api/v1/beeline/esims/{esim['id']}", headers=auth).json()
    assert restored["status"] == "active"


def test_a_beeline_cancellation_needs_a_refund_number(client: TestClient, demo: Context) -> None:
    auth = log_in(client, "beeline")
    esim = installed_esim(client, "beeline", auth)
    before = row_counts(demo)
    response = request_cancellation(client, "beeline", auth, esim["id"])
    assert_problem(response, 422, "refund-destination-required")
    assert row_counts(demo) == before


def test_a_megafon_debt_blocks_the_cancellation_and_says_how_much(
    client: TestClient, demo: Context
) -> None:
    auth = log_in(client, "megafon")
    esim = installed_esim(client, "megafon", auth)
    before = row_counts(demo)
    response = request_cancellation(client, "megafon", auth, esim["id"])
    body = assert_problem(response, 409, "debt-outstanding")
    assert body["debt"] == {"amount": "250.00", "currency": "RUB"}
    assert row_counts(demo) == before
    retried = request_cancellation(client, "megafon", auth, esim["id"])
    assert_problem(retried, 409, "debt-outstanding")


def test_a_failed_sms_still_creates_the_request_and_says_so(
    client: TestClient, demo: Context
) -> None:
    demo.sms.fail_next(1)  # type: ignore[attr-defined]
    auth = log_in(client, "mts")
    esim = installed_esim(client, "mts", auth)
    response = request_cancellation(client, "mts", auth, esim["id"])
    assert response.status_code == 201, response.text
    assert response.json()["verification"]["sms_delivery"] == "failed"


def test_the_operators_list_is_public(client: TestClient) -> None:
    response = client.get("/api/v1/operators")
    operators = {item["id"]: item for item in response.json()["items"]}
    assert set(operators) == {"mts", "beeline", "megafon"}
    assert operators["mts"]["hotline"]
    assert operators["mts"]["support_email"]


def test_health_answers_ok(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_the_openapi_document_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/v1/{operator}/sessions",
        "/api/v1/{operator}/sessions/current",
        "/api/v1/{operator}/esims",
        "/api/v1/{operator}/esims/{esim_id}",
        "/api/v1/{operator}/cancellation-reasons",
        "/api/v1/{operator}/esims/{esim_id}/cancellation-quote",
        "/api/v1/{operator}/esims/{esim_id}/cancellations",
        "/api/v1/{operator}/cancellations/{cancellation_id}",
        "/api/v1/{operator}/cancellations/{cancellation_id}/verification",
        "/api/v1/{operator}/cancellations/{cancellation_id}/verification-code",
        "/api/v1/{operator}/cancellations/{cancellation_id}/undo",
        "/api/v1/operators",
        "/api/v1/health",
        "/api/v1/dev/outbox",
    } <= set(paths)


def test_the_openapi_document_declares_every_error_as_problem_json(client: TestClient) -> None:
    """The fast guard; tests/contract/test_openapi_schemathesis.py checks the real answers."""
    document = client.get("/api/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            errors = {int(s): r for s, r in operation["responses"].items() if int(s) >= 400}
            for status, response in errors.items():
                assert set(response["content"]) == {"application/problem+json"}, (where, status)
            parameters = {p["name"].lower() for p in operation.get("parameters", [])}
            if "authorization" in parameters:
                assert 401 in errors, where
            if "requestBody" in operation:
                assert {400, 413, 422} <= set(errors), where
