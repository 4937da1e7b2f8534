"""A cancelled eSIM's activation code and QR code are gone (issue 7.2): 410 problem+json in the
API and a readable 410 page in the portal; while a cancellation is under way, 409."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_support import PROBLEM, api_client, log_in
from fastapi.testclient import TestClient
from portal_support import log_in as portal_log_in
from portal_support import portal_client, text_of

from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.esims.service import list_esims
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from tests.support import customer, request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

INSTALLED, RELEASED = 0, 1  # Anna's demo eSIMs on mts


def anna_esim(ctx: Context, index: int) -> Esim:
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        return list_esims(session, "mts", anna.id)[index].esim


def drain(ctx: Context) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(6):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


def qr(client: TestClient, auth: dict[str, str], esim_id: int, kind: str) -> int:
    response = client.get(f"/api/v1/mts/esims/{esim_id}/activation-qr.{kind}", headers=auth)
    if response.status_code != 200:
        assert response.headers["content-type"] == PROBLEM
    return response.status_code


@pytest.mark.parametrize("index", [RELEASED, INSTALLED], ids=["released", "installed"])
def test_a_cancelled_esims_qr_code_is_gone_from_the_api(demo: Context, index: int) -> None:
    esim = anna_esim(demo, index)
    with api_client(demo) as client:
        auth = log_in(client, "mts")
        assert qr(client, auth, esim.id, "png") == 200
        request_and_verify_mts(demo, esim_index=index)
        assert qr(client, auth, esim.id, "png") == 409  # being cancelled
        drain(demo)
        auth = log_in(client, "mts")  # the frozen clock moved past the idle timeout
        for kind in ("png", "svg"):
            response = client.get(f"/api/v1/mts/esims/{esim.id}/activation-qr.{kind}", headers=auth)
            assert response.status_code == 410
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["code"] == "activation-code-withdrawn"
            assert "LPA:" not in response.text


def test_a_cancelled_esims_activation_page_is_gone_from_the_portal(demo: Context) -> None:
    esim = anna_esim(demo, RELEASED)
    browser = portal_client(demo, "en")
    portal_log_in(browser, "mts")
    page = f"/mts/esims/{esim.id}/activation"
    assert browser.get(page).status_code == 200
    request_and_verify_mts(demo, esim_index=RELEASED)
    drain(demo)

    browser = portal_client(demo, "en")
    portal_log_in(browser, "mts")
    response = browser.get(page)
    assert response.status_code == 410
    assert response.headers["content-type"].startswith("text/html")
    assert "QR code and activation code no longer work" in text_of(response.text)
    assert str(esim.activation_code) not in response.text
