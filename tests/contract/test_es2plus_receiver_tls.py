"""`esimcare serve --tls-cert/--tls-key/--tls-client-ca`: the ES2+ receiver believes only the
SM-DP+'s own client certificate, checked by esimcare itself over a real TLS socket; the
portal still answers visitors without one."""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from esimcare.app import create_app
from esimcare.audit.models import AuditEvent
from esimcare.cli import tls_options
from esimcare.config import Mode
from esimcare.context import Context
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.esims.states import ProfileState
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.kit.clock import iso
from tests.conftest import MakeContext
from tests.contract.es2plus_support import (
    ClientIdentity,
    Pki,
    issue_client_certificate,
    make_pki,
)

SMDP_NAME = "smdp.vendor.test"
URL = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def production(make_context: MakeContext) -> Context:
    """The demo's data, run as production: no emulator signature is accepted."""
    ctx = make_context()
    ctx.settings = ctx.settings.with_changes(mode=Mode.PRODUCTION)
    mts = ctx.policy("mts")
    smdp = {**mts.smdp, "notification_cert_names": [SMDP_NAME]}
    ctx.policies["mts"] = replace(mts, smdp=smdp)
    return ctx


@pytest.fixture
def base_url(production: Context, pki: Pki) -> Iterator[str]:
    args = argparse.Namespace(
        tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca
    )
    options = tls_options(args)
    assert options["ssl_cert_reqs"] == ssl.CERT_OPTIONAL
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(production), lifespan="on", log_level="critical", access_log=False, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _until(lambda: server.started or not thread.is_alive())
    assert server.started, "the TLS server did not start"
    yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _until(condition: Callable[[], object]) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def client(pki: Pki, identity: ClientIdentity | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if identity is not None:
        context.load_cert_chain(str(identity.cert), str(identity.key))
    return httpx.Client(verify=context, timeout=10)


def released_iccid(ctx: Context) -> str:
    with ctx.sessions() as session:
        iccid = session.scalar(
            select(Esim.iccid).where(
                Esim.operator_id == "mts", Esim.profile_state == ProfileState.RELEASED
            )
        )
    assert iccid is not None
    return iccid


def notify(http: httpx.Client, base_url: str, ctx: Context, iccid: str) -> httpx.Response:
    body = {
        "header": {"functionRequesterIdentifier": EMULATOR_REQUESTER_ID},
        "iccid": iccid,
        "timestamp": iso(ctx.clock.now()),
        "notificationPointId": 3,
        "notificationPointStatus": {"status": "Executed-Success"},
    }
    return http.post(
        base_url + URL, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def stored(ctx: Context) -> tuple[int, list[Any]]:
    with ctx.sessions() as session:
        count = session.scalar(select(func.count()).select_from(Es2PlusNotification))
        senders = session.scalars(
            select(AuditEvent.data).where(AuditEvent.action == "es2plus.notification")
        ).all()
    return int(count or 0), [data.get("sender") for data in senders]


def profile_state(ctx: Context, iccid: str) -> ProfileState:
    with ctx.sessions() as session:
        state = session.scalar(select(Esim.profile_state).where(Esim.iccid == iccid))
    assert state is not None
    return state


def test_the_smdps_own_certificate_moves_the_profile(
    base_url: str, pki: Pki, production: Context, tmp_path: Path
) -> None:
    smdp = issue_client_certificate(tmp_path, pki, SMDP_NAME, common_name="Vendor SM-DP+ TLS")
    iccid = released_iccid(production)
    with client(pki, smdp) as http:
        answer = notify(http, base_url, production, iccid)
    assert answer.status_code == 204, answer.text
    assert profile_state(production, iccid) is ProfileState.DOWNLOADED
    assert stored(production) == (1, [f"tls-certificate:{SMDP_NAME}"])


def test_without_a_certificate_the_receiver_refuses_and_the_portal_still_answers(
    base_url: str, pki: Pki, production: Context
) -> None:
    iccid = released_iccid(production)
    with client(pki, None) as http:
        answer = notify(http, base_url, production, iccid)
        health = http.get(base_url + "/api/v1/health")
    assert answer.status_code == 403
    assert answer.json()["code"] == "unauthenticated-sender"
    assert health.status_code == 200
    assert profile_state(production, iccid) is ProfileState.RELEASED
    assert stored(production) == (0, [])


def test_a_certificate_of_the_same_ca_naming_another_party_is_refused(
    base_url: str, pki: Pki, production: Context, tmp_path: Path
) -> None:
    other = issue_client_certificate(tmp_path, pki, "smdp.other.test")
    iccid = released_iccid(production)
    with client(pki, other) as http:
        answer = notify(http, base_url, production, iccid)
    assert answer.status_code == 403
    assert answer.json()["code"] == "unauthenticated-sender"
    assert profile_state(production, iccid) is ProfileState.RELEASED
    assert stored(production) == (0, [])


def test_tls_flags_need_a_certificate() -> None:
    args = argparse.Namespace(tls_cert=None, tls_key=None, tls_client_ca=Path("ca.pem"))
    with pytest.raises(SystemExit, match="--tls-cert"):
        tls_options(args)
