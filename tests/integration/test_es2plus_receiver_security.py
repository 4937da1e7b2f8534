"""Issue 7.1: only a proven SM-DP+ moves a profile's state (security.md, machine-to-machine
doors). Forgeries, wrong content types, claimed times and odd bodies change nothing and are
answered 4xx, never 500; on SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from esimcare.app import create_app
from esimcare.audit.models import AuditEvent
from esimcare.config import Mode
from esimcare.context import Context
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.esims.states import ProfileState
from esimcare.integrations.smdp.notification_signature import (
    EMULATOR_REQUESTER_ID,
    signature_headers,
)
from esimcare.kit.clock import iso
from tests.conftest import MakeContext
from tests.support import emulator_signed_headers

URL = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"
SMDP_NAME = "smdp.vendor.test"
PROXY = "10.9.0.2"


@pytest.fixture
def demo(make_context: MakeContext, db_url: str) -> Context:
    return make_context(database_url=db_url)


@pytest.fixture
def client(demo: Context) -> Iterator[TestClient]:
    with TestClient(create_app(demo)) as client:
        yield client


def as_production(ctx: Context, **settings: Any) -> Context:
    """The same data behind a production-mode app whose mts SM-DP+ is ``SMDP_NAME``."""
    ctx.settings = ctx.settings.with_changes(mode=Mode.PRODUCTION, **settings)
    mts = ctx.policy("mts")
    ctx.policies["mts"] = replace(mts, smdp={**mts.smdp, "notification_cert_names": [SMDP_NAME]})
    return ctx


def released_iccid(ctx: Context) -> str:
    with ctx.sessions() as session:
        iccid = session.scalar(
            select(Esim.iccid)
            .where(Esim.operator_id == "mts", Esim.profile_state == ProfileState.RELEASED)
            .order_by(Esim.id)
        )
    assert iccid is not None
    return iccid


def notification(ctx: Context, iccid: str, point: int = 3, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "header": {"functionRequesterIdentifier": EMULATOR_REQUESTER_ID},
        "iccid": iccid,
        "timestamp": iso(ctx.clock.now()),
        "notificationPointId": point,
        "notificationPointStatus": {"status": "Executed-Success"},
    }
    return body | changes


def encoded(body: object) -> bytes:
    return json.dumps(body).encode()


def signed(client: TestClient, ctx: Context, content: bytes, **headers: str) -> Any:
    return client.post(
        URL, content=content, headers=emulator_signed_headers(ctx, content) | headers
    )


def nothing_happened(ctx: Context, iccid: str) -> bool:
    with ctx.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(Es2PlusNotification))
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "es2plus.notification")
        )
        state = session.scalar(select(Esim.profile_state).where(Esim.iccid == iccid))
    return (rows, audited, state) == (0, 0, ProfileState.RELEASED)


def profile_state(ctx: Context, iccid: str) -> ProfileState | None:
    with ctx.sessions() as session:
        return session.scalar(select(Esim.profile_state).where(Esim.iccid == iccid))


# --- the sender must be proven ---------------------------------------------------------------


def test_a_forged_notification_with_the_emulators_requester_id_is_403_and_changes_nothing(
    client: TestClient, demo: Context
) -> None:
    iccid = released_iccid(demo)
    for point in (3, 4, 102):
        forged = client.post(URL, json=notification(demo, iccid, point))
        assert forged.status_code == 403
        assert forged.json()["code"] == "unauthenticated-sender"
    assert nothing_happened(demo, iccid)


@pytest.mark.parametrize("forgery", ["another-key", "another-body", "stale", "no-timestamp"])
def test_only_the_emulators_own_fresh_signature_of_this_body_is_accepted(
    client: TestClient, demo: Context, forgery: str
) -> None:
    iccid = released_iccid(demo)
    content = encoded(notification(demo, iccid))
    headers = emulator_signed_headers(demo, content)
    if forgery == "another-key":
        headers |= signature_headers(b"guessed", content, demo.clock.now())
    elif forgery == "another-body":
        headers = emulator_signed_headers(demo, encoded(notification(demo, iccid, 4)))
    elif forgery == "stale":
        headers = emulator_signed_headers(demo, content, demo.clock.now() - timedelta(minutes=6))
    else:
        del headers["X-Esimcare-Timestamp"]
    assert client.post(URL, content=content, headers=headers).status_code == 403
    assert nothing_happened(demo, iccid)
    assert signed(client, demo, content).status_code == 204
    assert profile_state(demo, iccid) is ProfileState.DOWNLOADED


def test_in_production_the_emulator_signature_proves_nothing(demo: Context) -> None:
    iccid = released_iccid(demo)
    content = encoded(notification(demo, iccid))
    headers = emulator_signed_headers(demo, content)
    with TestClient(create_app(as_production(demo))) as client:
        answer = client.post(URL, content=content, headers=headers)
    assert answer.status_code == 403
    assert nothing_happened(demo, iccid)


VERIFIED = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": f"CN={SMDP_NAME},O=Vendor"}


def test_proxy_headers_count_only_from_a_trusted_proxy(demo: Context) -> None:
    iccid = released_iccid(demo)
    app = create_app(as_production(demo, trusted_proxies=(ipaddress.ip_network("10.9.0.0/16"),)))
    content = encoded(notification(demo, iccid))
    headers = {"Content-Type": "application/json", **VERIFIED}
    with TestClient(app, client=("203.0.113.5", 40000)) as stranger:
        assert stranger.post(URL, content=content, headers=headers).status_code == 403
    assert nothing_happened(demo, iccid)
    with TestClient(app, client=(PROXY, 40000)) as proxy:
        assert proxy.post(URL, content=content, headers=headers).status_code == 204
    assert profile_state(demo, iccid) is ProfileState.DOWNLOADED


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({**VERIFIED, "X-SSL-Client-Verify": "FAILED:unable to verify"}, id="failed"),
        pytest.param({**VERIFIED, "X-SSL-Client-Verify": "NONE"}, id="no-certificate"),
        pytest.param({**VERIFIED, "X-SSL-Client-S-DN": "CN=smdp.other.test"}, id="other-name"),
        pytest.param({**VERIFIED, "X-SSL-Client-S-DN": "/O=Vendor/CN=x"}, id="openssl-form"),
    ],
)
def test_a_trusted_proxy_must_have_verified_this_operators_smdp(
    demo: Context, headers: dict[str, str]
) -> None:
    iccid = released_iccid(demo)
    app = create_app(as_production(demo, trusted_proxies=(ipaddress.ip_network(PROXY),)))
    with TestClient(app, client=(PROXY, 40000)) as proxy:
        answer = proxy.post(
            URL,
            content=encoded(notification(demo, iccid)),
            headers={"Content-Type": "application/json", **headers},
        )
    assert answer.status_code == 403
    assert nothing_happened(demo, iccid)


# --- content type, claimed time ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=iso-8859-1",
        "application/jsonp",
        "",
    ],
)
def test_only_application_json_is_read(
    client: TestClient, demo: Context, content_type: str
) -> None:
    iccid = released_iccid(demo)
    content = encoded(notification(demo, iccid))
    answer = signed(client, demo, content, **{"Content-Type": content_type})
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported-media-type"
    assert nothing_happened(demo, iccid)
    utf8 = signed(client, demo, content, **{"Content-Type": "application/json; charset=UTF-8"})
    assert utf8.status_code == 204


def test_a_timestamp_far_in_the_future_is_400_and_a_little_clock_skew_is_not(
    client: TestClient, demo: Context
) -> None:
    iccid = released_iccid(demo)
    ahead = iso(demo.clock.now() + timedelta(minutes=6))
    answer = signed(client, demo, encoded(notification(demo, iccid, timestamp=ahead)))
    assert answer.status_code == 400
    assert answer.json()["code"] == "notification-from-the-future"
    assert nothing_happened(demo, iccid)
    skewed = iso(demo.clock.now() + timedelta(minutes=4))
    assert signed(client, demo, encoded(notification(demo, iccid, timestamp=skewed))).is_success


def test_the_install_time_is_when_we_heard_of_it_not_what_the_smdp_claims(
    client: TestClient, demo: Context
) -> None:
    """An install dated back by the SM-DP+ (or a forger) must not skip the eSIM-swap window."""
    iccid = released_iccid(demo)
    claimed = demo.clock.now() - timedelta(days=30)
    body = notification(demo, iccid, 4, timestamp=iso(claimed))
    assert signed(client, demo, encoded(body)).status_code == 204
    with demo.sessions() as session:
        esim = session.scalars(select(Esim).where(Esim.iccid == iccid)).one()
        row = session.scalars(select(Es2PlusNotification)).one()
    assert esim.installed_at == demo.clock.now()
    assert row.notified_at == claimed  # the claim is kept as a claim


# --- odd input: 400 or 413, never 500 -------------------------------------------------------


def _odd_bodies(iccid: str) -> dict[str, bytes]:
    def with_fields(**fields: Any) -> bytes:
        base = {
            "header": {"functionRequesterIdentifier": EMULATOR_REQUESTER_ID},
            "iccid": iccid,
            "timestamp": "2026-11-23T11:00:00Z",
            "notificationPointId": 3,
        }
        return encoded(base | fields)

    return {
        "deep-nesting": b'{"tac": ' + b"[" * 30000 + b"]" * 30000 + b"}",
        "point-beyond-64-bits": with_fields(notificationPointId=2**64),
        "point-beyond-32-bits": with_fields(notificationPointId=2**40),
        "point-in-superscript": with_fields(notificationPointId="\u00b2"),
        "integer-beyond-64-bits": with_fields(tac=2**70),
        "year-9999-west-of-utc": with_fields(timestamp="9999-12-31T23:59:59-01:00"),
        "year-1-east-of-utc": with_fields(timestamp="0001-01-01T00:00:00+01:00"),
        "year-1": with_fields(timestamp="0001-01-01T00:00:00Z"),
        "lone-surrogate-in-a-field": with_fields(profileType="\ud800"),
        "lone-surrogate-in-the-raw-copy": with_fields(imei="\udfff"),
        "lone-surrogate-in-a-key": with_fields(**{"\ud800": 1}),
        "nan": with_fields(tac=float("nan")),
        "infinity-by-overflow": with_fields(tac=1).replace(b'"tac": 1', b'"tac": 1e400'),
    }


ODD = list(_odd_bodies("8999001000000000017"))


@pytest.mark.parametrize("kind", ODD)
def test_odd_input_is_400_and_changes_nothing(client: TestClient, demo: Context, kind: str) -> None:
    iccid = released_iccid(demo)
    content = _odd_bodies(iccid)[kind]
    answer = signed(client, demo, content)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert nothing_happened(demo, iccid)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413(client: TestClient, demo: Context, chunked: bool) -> None:
    iccid = released_iccid(demo)
    padding = "x" * demo.settings.limits.max_body_bytes
    content = encoded(notification(demo, iccid, tac=padding))
    headers = emulator_signed_headers(demo, content)
    if chunked:
        pieces = [content[i : i + 4096] for i in range(0, len(content), 4096)]
        answer = client.post(URL, content=iter(pieces), headers=headers)
    else:
        answer = client.post(URL, content=content, headers=headers)
    assert answer.status_code == 413
    assert nothing_happened(demo, iccid)
