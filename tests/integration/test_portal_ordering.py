"""The portal's "Order a new eSIM" page and the activation page with the QR code."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from portal_support import csrf, hidden, log_in, portal_client, text_of

from esimcare.context import Context
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.sandbox.stand_ins import smdp_emulator_of


def logged_in(demo: Context, language: str = "en") -> TestClient:
    client = portal_client(demo, language)
    assert log_in(client, "mts").status_code == 303
    return client


def submit(client: TestClient, page: str, plan: str = "travel", eid: str = "") -> Any:
    return client.post(
        "/mts/order",
        data={"csrf": csrf(page), "form_token": hidden(page, "form_token"), "plan": plan,
              "eid": eid},
        follow_redirects=False,
    )  # fmt: skip


def test_the_order_page_offers_the_operators_plans(demo: Context) -> None:
    client = logged_in(demo, "ru")
    assert 'href="/mts/order"' in client.get("/mts/esims").text
    page = text_of(client.get("/mts/order").text)
    assert "Путешествия" in page and "Smart" in page


def test_ordering_leads_to_the_qr_code_and_the_activation_code(demo: Context) -> None:
    client = logged_in(demo)
    response = submit(client, client.get("/mts/order").text)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.endswith("/activation")
    page = client.get(location)
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.text
    assert "LPA:1$smdp.esimcare.test$" in page.text
    assert "Add eSIM" in text_of(page.text)


def test_sending_the_order_form_twice_orders_one_esim(demo: Context) -> None:
    client = logged_in(demo)
    page = client.get("/mts/order").text
    first, second = submit(client, page), submit(client, page)
    assert first.headers["location"] == second.headers["location"]


def test_an_smdp_out_of_stock_is_explained_on_the_form(demo: Context) -> None:
    emulator = smdp_emulator_of(demo)
    assert emulator is not None
    for profile in emulator.profiles("mts-travel"):
        if profile.state is SmdpProfileState.AVAILABLE:
            emulator.download_order(iccid=profile.iccid)
    client = logged_in(demo)
    response = submit(client, client.get("/mts/order").text)
    assert response.status_code == 303
    assert "no eSIM of this plan left" in text_of(client.get("/mts/order").text)


def test_another_customers_activation_page_is_not_found(demo: Context) -> None:
    client = logged_in(demo)
    location = submit(client, client.get("/mts/order").text).headers["location"]
    stranger = portal_client(demo, "en")
    log_in(stranger, "megafon")
    assert stranger.get(location.replace("/mts/", "/megafon/")).status_code == 404
