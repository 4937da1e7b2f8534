"""Ordering a new eSIM through the SM-DP+ emulator: plans, the order, its QR code, failures."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import assert_problem, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.context import Context
from esimcare.esims.models import EsimOrder, OrderStatus
from esimcare.integrations.smdp.interface import Es2Outcome
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.kit.ids import Eid
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.stand_ins import smdp_emulator_of


def order(client: TestClient, auth: dict[str, str], key: str = "order-1", **body: Any) -> Any:
    return client.post(
        "/api/v1/mts/esims",
        json={"plan": "travel", **body},
        headers={**auth, "Idempotency-Key": key},
    )


def emulator(ctx: Context) -> SmdpEmulator:
    emulator = smdp_emulator_of(ctx)
    assert emulator is not None
    return emulator


def test_plans_list_code_name_price_and_profile_type(client: TestClient) -> None:
    response = client.get("/api/v1/mts/plans", headers={"Accept-Language": "ru"})
    assert response.status_code == 200
    assert response.json()["items"][1] == {
        "code": "travel",
        "name": "Путешествия",
        "price": {"amount": "300.00", "currency": "RUB"},
        "profile_type": "mts-travel",
    }


def test_an_order_releases_a_profile_and_answers_its_activation_code(
    client: TestClient, auth: dict[str, str], demo: Context
) -> None:
    response = order(client, auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active"
    assert body["profile_state"] == "released"
    _, address, matching_id = body["activation_code"].split("$")
    assert address == emulator(demo).smdp_address
    profile = emulator(demo).profile(body["iccid"])
    assert profile is not None
    assert (profile.state, profile.matching_id) == (SmdpProfileState.RELEASED, matching_id)
    assert body["iccid"].startswith("8970101")
    assert body["msisdn"].startswith(("+7916", "+7915"))


def test_an_order_with_an_eid_links_the_profile_to_that_eid(
    client: TestClient, auth: dict[str, str], demo: Context
) -> None:
    eid = Eid.from_body("890490320000000000000000000014").value
    body = order(client, auth, eid=eid).json()
    profile = emulator(demo).profile(body["iccid"])
    assert profile is not None and profile.eid == eid


def test_the_same_idempotency_key_answers_the_same_order_once(
    client: TestClient, auth: dict[str, str], demo: Context
) -> None:
    def downloads() -> int:
        calls = emulator(demo).calls()
        return sum(1 for call in calls if call.function is SmdpFunction.DOWNLOAD_ORDER)

    before = downloads()
    first, again = order(client, auth), order(client, auth)
    assert first.json() == again.json()
    assert downloads() == before + 1


def test_two_orders_get_two_different_numbers(client: TestClient, auth: dict[str, str]) -> None:
    first, second = order(client, auth, "a").json(), order(client, auth, "b").json()
    assert first["msisdn"] != second["msisdn"]
    assert first["iccid"] != second["iccid"]


def test_the_qr_code_is_a_png_and_an_svg_for_the_owner_only(
    client: TestClient, auth: dict[str, str]
) -> None:
    esim_id = order(client, auth).json()["id"]
    png = client.get(f"/api/v1/mts/esims/{esim_id}/activation-qr.png", headers=auth)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/v1/mts/esims/{esim_id}/activation-qr.svg", headers=auth)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    other = log_in(client, "megafon")
    stranger = client.get(f"/api/v1/megafon/esims/{esim_id}/activation-qr.png", headers=other)
    assert_problem(stranger, 404, "not-found")


def test_an_unknown_plan_is_invalid_input(client: TestClient, auth: dict[str, str]) -> None:
    assert_problem(order(client, auth, plan="gold"), 422, "invalid-input")


def test_an_order_needs_an_idempotency_key(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/mts/esims", json={"plan": "travel"}, headers=auth)
    assert_problem(response, 400, "idempotency-key-missing")


class FailConfirm:
    """The emulator, made to time out on the ConfirmOrder that follows a DownloadOrder."""

    def __init__(self, inner: SmdpEmulator) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download_order(self, **kwargs: Any) -> Es2Outcome:
        outcome = self.inner.download_order(**kwargs)
        self.inner.fail_next(1)
        return outcome


def test_an_order_failing_half_way_is_cancelled_at_the_smdp(
    client: TestClient, auth: dict[str, str], demo: Context
) -> None:
    demo.smdp["mts"] = FailConfirm(emulator(demo))  # type: ignore[assignment]
    response = order(client, auth)
    body = assert_problem(response, 503, "smdp-unavailable")
    assert response.headers["retry-after"]
    assert "smdp_code" not in body
    calls = [c.function for c in emulator(demo).calls()][-3:]
    assert calls == [
        SmdpFunction.DOWNLOAD_ORDER,
        SmdpFunction.CONFIRM_ORDER,
        SmdpFunction.CANCEL_ORDER,
    ]
    iccid = emulator(demo).calls()[-1].iccid
    assert iccid is not None
    profile = emulator(demo).profile(iccid)
    assert profile is not None and profile.state is SmdpProfileState.AVAILABLE
    with demo.sessions() as session:
        failed = session.scalars(select(EsimOrder)).one()
        assert (failed.status, failed.cleanup) == (OrderStatus.FAILED, "cancelled")


def test_a_definite_refusal_answers_the_smdp_code(
    client: TestClient, auth: dict[str, str], demo: Context
) -> None:
    for profile in emulator(demo).profiles("mts-travel"):
        if profile.state is SmdpProfileState.AVAILABLE:
            emulator(demo).download_order(iccid=profile.iccid)
    body = assert_problem(order(client, auth), 409, "smdp-out-of-stock")
    assert body["smdp_code"] == "8.2.5/3.7"


@pytest.mark.parametrize("eid", ["123", "8904903200000000000000000000014X"])
def test_a_malformed_eid_is_invalid_input(
    client: TestClient, auth: dict[str, str], eid: str
) -> None:
    assert_problem(order(client, auth, eid=eid), 422, "invalid-input")
