"""How the ES2+ client classifies what comes back: codes, faults, strangers, and mutual TLS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import esimcare.models  # noqa: F401  (registers every table)
from esimcare.db import Base, make_engine, session_factory
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient, Es2PlusConfig
from esimcare.integrations.smdp.interface import ExecutionStatus, FinalProfileStatus, StatusCode
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Iccid
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.server import create_emulator_app
from esimcare.sandbox.store import EmulatorStore
from tests.contract.conftest import ServeAsgi
from tests.contract.es2plus_support import Pki, Scripted, make_pki, serve_tls

ICCID = Iccid.from_body("899900100000000001").value
Connect = Callable[..., Es2PlusClient]
Sessions = sessionmaker[Session]
ES2_HEADERS = {"Content-Type": "application/json", "X-Admin-Protocol": "gsma/rsp/v2.2.0"}

# es2plus.md's whole table, including the codes the emulator never produces.
TABLE = [
    codes.ICCID_UNKNOWN,
    codes.ICCID_NOT_ALLOWED,
    codes.ICCID_IN_USE,
    codes.EID_DIFFERENT_ON_CANCEL,
    codes.INVALID_STATE_TRANSITION,
    codes.PROFILE_TYPE_UNKNOWN,
    codes.PROFILE_TYPE_NOT_ALLOWED,
    codes.PROFILE_TYPE_EXHAUSTED,
    codes.PROFILE_TYPE_MISMATCH,
    codes.MATCHING_ID_CONFLICT,
    codes.MATCHING_ID_DIFFERENT,
    codes.EID_MISSING,
    codes.EID_DIFFERENT,
    codes.SMDS_UNREACHABLE,
    codes.SMDS_REGISTRATION_FAILED,
]


def es2_reply(status: str, code: StatusCode | None = None, **fields: object) -> bytes:
    execution: dict[str, object] = {"status": status}
    if code is not None:
        execution["statusCodeData"] = {
            "subjectCode": code.subject,
            "reasonCode": code.reason,
            "subjectIdentifier": ICCID,
            "message": code.message,
        }
    return json.dumps({"header": {"functionExecutionStatus": execution}, **fields}).encode()


@pytest.fixture
def main_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'esimcare.db'}")
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def connect(main_sessions: sessionmaker[Session], clock: FrozenClock) -> Iterator[Connect]:
    clients: list[Es2PlusClient] = []

    def make(base_url: str, **options: object) -> Es2PlusClient:
        config = Es2PlusConfig(base_url=base_url, requester_id="esimcare.test", **options)  # type: ignore[arg-type]
        client = Es2PlusClient(config, main_sessions, operator_id="mts", clock=clock)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def only_row(sessions: sessionmaker[Session]) -> Es2PlusCall:
    with sessions() as session:
        (row,) = session.scalars(select(Es2PlusCall))
        return row


@pytest.mark.parametrize("code", TABLE, ids=str)
def test_every_code_of_the_table_is_read_into_the_outcome(
    code: StatusCode, serve_asgi: ServeAsgi, connect: Connect, main_sessions: Sessions
) -> None:
    peer = Scripted(body=es2_reply("Failed", code), headers=ES2_HEADERS)

    outcome = connect(serve_asgi(peer)).cancel_order(
        iccid=ICCID, final_status=FinalProfileStatus.AVAILABLE
    )

    assert outcome.status is ExecutionStatus.FAILED
    assert outcome.is_code(code)
    assert outcome.code is not None and outcome.code.message == code.message
    row = only_row(main_sessions)
    assert (row.outcome, row.subject_code, row.reason_code) == (
        CallOutcome.FAILED,
        code.subject,
        code.reason,
    )


def test_a_failure_in_a_4xx_reply_is_still_a_definite_answer(
    serve_asgi: ServeAsgi, connect: Connect
) -> None:
    peer = Scripted(400, es2_reply("Failed", codes.ICCID_UNKNOWN), ES2_HEADERS)

    outcome = connect(serve_asgi(peer)).release_profile(iccid=ICCID)

    assert outcome.status is ExecutionStatus.FAILED and outcome.is_code(codes.ICCID_UNKNOWN)


def test_liberal_replies_are_accepted(serve_asgi: ServeAsgi, connect: Connect) -> None:
    body = es2_reply("Executed-WithWarning", iccid=ICCID + "F", tac="35000000")
    peer = Scripted(body=body, headers={"Content-Type": "application/json"})  # no protocol

    outcome = connect(serve_asgi(peer)).download_order(profile_type="consumer")

    assert outcome.succeeded and outcome.data == {"iccid": ICCID}


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_overload_and_server_errors_are_transient_and_logged_so(
    status: int, serve_asgi: ServeAsgi, connect: Connect, main_sessions: Sessions
) -> None:
    client = connect(serve_asgi(Scripted(status, b"<html>oops</html>")))

    with pytest.raises(TransientIntegrationError, match=str(status)):
        client.release_profile(iccid=ICCID)

    row = only_row(main_sessions)
    assert (row.outcome, row.http_status, row.status) == (CallOutcome.TRANSIENT, status, None)


def test_a_timeout_is_transient(
    serve_asgi: ServeAsgi, connect: Connect, main_sessions: Sessions
) -> None:
    slow = Scripted(body=es2_reply("Executed-Success"), headers=ES2_HEADERS, delay_s=1.5)
    client = connect(serve_asgi(slow), read_timeout_s=0.3)

    with pytest.raises(TransientIntegrationError, match="Timeout"):
        client.release_profile(iccid=ICCID)

    assert only_row(main_sessions).outcome is CallOutcome.TRANSIENT


def test_a_closed_port_is_transient(
    closed_port_url: str, connect: Connect, main_sessions: Sessions
) -> None:
    with pytest.raises(TransientIntegrationError, match="ConnectError"):
        connect(closed_port_url).release_profile(iccid=ICCID)

    row = only_row(main_sessions)
    assert (row.outcome, row.http_status) == (CallOutcome.TRANSIENT, None)


def test_an_injected_emulator_fault_is_transient(
    serve_asgi: ServeAsgi, connect: Connect, emulator_store: EmulatorStore, clock: FrozenClock
) -> None:
    smdp = SmdpEmulator(emulator_store, clock)
    smdp.generate_inventory("consumer", 1)
    smdp.fail_next(1)
    client = connect(serve_asgi(create_emulator_app(smdp)))

    with pytest.raises(TransientIntegrationError, match="503"):
        client.download_order(profile_type="consumer")
    assert client.download_order(profile_type="consumer").succeeded


@pytest.mark.parametrize(
    "peer",
    [
        Scripted(200, b"<html>Welcome to nginx</html>", {"Content-Type": "text/html"}),
        Scripted(404, b"not found"),
        Scripted(200, b'{"ok": true}', {"Content-Type": "application/json"}),
        Scripted(200, es2_reply("Executed-Success"), {"X-Admin-Protocol": "gsma/rsp/v3.0.0"}),
        Scripted(200, es2_reply("Executed-Success"), ES2_HEADERS),  # success without iccid
    ],
    ids=["html page", "plain 404", "other json", "other protocol", "missing output"],
)
def test_a_reply_from_something_that_is_no_smdp_is_permanent(
    peer: Scripted, serve_asgi: ServeAsgi, connect: Connect, main_sessions: Sessions
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        connect(serve_asgi(peer)).download_order(profile_type="consumer")

    assert refused.value.code == "not-es2plus"
    assert only_row(main_sessions).outcome is CallOutcome.PERMANENT


# --- mutual TLS ----------------------------------------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return make_pki(directory)


@pytest.fixture
def mtls_url(pki: Pki, emulator_store: EmulatorStore, clock: FrozenClock) -> Iterator[str]:
    smdp = SmdpEmulator(emulator_store, clock)
    smdp.generate_inventory("consumer", 2)
    yield from serve_tls(create_emulator_app(smdp), pki, require_client_cert=True)


def test_mutual_tls_with_the_operator_certificate_works(
    mtls_url: str, pki: Pki, connect: Connect
) -> None:
    client = connect(
        mtls_url, client_cert=pki.client_cert, client_key=pki.client_key, ca_bundle=pki.ca
    )

    assert client.download_order(profile_type="consumer").succeeded


def test_a_client_without_a_certificate_is_refused(
    mtls_url: str, pki: Pki, connect: Connect, main_sessions: Sessions
) -> None:
    with pytest.raises(TransientIntegrationError):
        connect(mtls_url, ca_bundle=pki.ca).download_order(profile_type="consumer")

    assert only_row(main_sessions).outcome is CallOutcome.TRANSIENT


def test_a_server_the_ca_bundle_does_not_vouch_for_is_refused(
    mtls_url: str, pki: Pki, connect: Connect
) -> None:
    client = connect(
        mtls_url, client_cert=pki.client_cert, client_key=pki.client_key, ca_bundle=pki.other_ca
    )

    with pytest.raises(TransientIntegrationError, match="TLS with the SM-DP\\+ failed"):
        client.download_order(profile_type="consumer")
