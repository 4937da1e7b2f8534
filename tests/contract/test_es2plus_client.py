"""The real ES2+ client against the SM-DP+ emulator over a loopback socket (SGP.22 v2.2 5.3)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import esimcare.models  # noqa: F401  (registers every table)
from esimcare.db import Base, make_engine, session_factory, transaction
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient, Es2PlusConfig
from esimcare.integrations.smdp.interface import (
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
    SmdpGateway,
    StatusCode,
)
from esimcare.integrations.smdp.messages import CancelOrder, DownloadOrder
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid, Iccid
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.server import create_emulator_app
from esimcare.sandbox.store import EmulatorStore
from tests.contract.conftest import ServeAsgi
from tests.contract.es2plus_support import Recorder, Scripted

EID_A = Eid.from_body("89049032" + "0" * 21 + "1").value
EID_B = Eid.from_body("89049032" + "0" * 21 + "2").value
REQUESTER = "esimcare.mts.test"
UNKNOWN_ICCID = Iccid.from_body("899900109999999999").value
AVAILABLE, UNAVAILABLE = FinalProfileStatus.AVAILABLE, FinalProfileStatus.UNAVAILABLE
ClientFactory = Callable[..., Es2PlusClient]


@pytest.fixture
def main_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'esimcare.db'}")
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def smdp(emulator_store: EmulatorStore, clock: FrozenClock) -> SmdpEmulator:
    emulator = SmdpEmulator(emulator_store, clock)
    emulator.generate_inventory("consumer", 4)
    emulator.generate_inventory("iot", 1, iccid_prefix="89990020")
    return emulator


@pytest.fixture
def recorder(smdp: SmdpEmulator) -> Recorder:
    return Recorder(create_emulator_app(smdp))


@pytest.fixture
def make_client(
    main_sessions: sessionmaker[Session], clock: FrozenClock
) -> Iterator[ClientFactory]:
    clients: list[Es2PlusClient] = []

    def make(base_url: str, **config: object) -> Es2PlusClient:
        settings = Es2PlusConfig(base_url=base_url, requester_id=REQUESTER, **config)  # type: ignore[arg-type]
        client = Es2PlusClient(settings, main_sessions, operator_id="mts", clock=clock)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(serve_asgi: ServeAsgi, recorder: Recorder, make_client: ClientFactory) -> Es2PlusClient:
    return make_client(serve_asgi(recorder))


@pytest.fixture
def iccids(smdp: SmdpEmulator) -> list[str]:
    return [p.iccid for p in smdp.profiles("consumer")]


def log_rows(sessions: sessionmaker[Session]) -> list[Es2PlusCall]:
    with sessions() as session:
        return list(session.scalars(select(Es2PlusCall).order_by(Es2PlusCall.id)))


def failed_with(outcome: Es2Outcome, code: StatusCode) -> bool:
    return outcome.status is ExecutionStatus.FAILED and outcome.is_code(code)


def test_the_client_is_an_smdp_gateway(client: Es2PlusClient) -> None:
    gateway: SmdpGateway = client
    assert gateway is client


def test_download_order_sends_the_spec_headers_and_only_the_given_fields(
    client: Es2PlusClient, recorder: Recorder
) -> None:
    outcome = client.download_order(profile_type="consumer")

    assert outcome.succeeded
    sent = recorder.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/gsma/rsp2/es2plus/downloadOrder")
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-admin-protocol"] == "gsma/rsp/v2.5.0"
    body = json.loads(sent.body)
    assert set(body) == {"header", "profileType"}
    assert body["header"]["functionRequesterIdentifier"] == REQUESTER
    assert len(body["header"]["functionCallIdentifier"]) == 32


def test_an_f_padded_iccid_is_sent_without_its_padding(
    client: Es2PlusClient, recorder: Recorder, iccids: list[str]
) -> None:
    outcome = client.download_order(iccid=iccids[0] + "F", eid=EID_A)

    assert outcome.succeeded
    assert outcome.data["iccid"] == iccids[0]
    body = json.loads(recorder.requests[-1].body)
    assert body["iccid"] == iccids[0]
    assert body["eid"] == EID_A


def test_every_function_succeeds_through_a_whole_order(
    client: Es2PlusClient, smdp: SmdpEmulator, iccids: list[str], recorder: Recorder
) -> None:
    iccid = client.download_order(profile_type="consumer", eid=EID_A).data["iccid"]
    confirmed = client.confirm_order(
        iccid=iccid, release=False, matching_id="MY-MATCHING-ID", confirmation_code="1234"
    )
    released = client.release_profile(iccid=iccid)
    again = client.release_profile(iccid=iccid)

    assert confirmed.succeeded and released.succeeded and again.succeeded
    assert confirmed.data == {
        "eid": EID_A,
        "matchingId": "MY-MATCHING-ID",
        "smdpAddress": smdp.smdp_address,
    }
    confirm_body = json.loads(recorder.requests[1].body)
    assert confirm_body["releaseFlag"] is False
    assert confirm_body["confirmationCode"] == "1234"
    assert "smdsAddress" not in confirm_body
    cancelled = client.cancel_order(
        iccid=iccid, final_status=UNAVAILABLE, eid=EID_A, matching_id="MY-MATCHING-ID"
    )
    assert cancelled.succeeded
    snapshot = smdp.profile(iccid)
    assert snapshot is not None and snapshot.state is SmdpProfileState.UNAVAILABLE


def test_each_call_is_logged_with_a_unique_call_id_the_smdp_saw(
    client: Es2PlusClient, smdp: SmdpEmulator, main_sessions: sessionmaker[Session]
) -> None:
    iccid = client.download_order(profile_type="consumer").data["iccid"]
    client.confirm_order(iccid=iccid, release=True, confirmation_code="secret-code")
    client.release_profile(iccid=UNKNOWN_ICCID)

    rows = log_rows(main_sessions)
    assert [r.function for r in rows] == [
        SmdpFunction.DOWNLOAD_ORDER,
        SmdpFunction.CONFIRM_ORDER,
        SmdpFunction.RELEASE_PROFILE,
    ]
    assert len({r.function_call_id for r in rows}) == 3
    assert [r.function_call_id for r in rows] == [c.function_call_id for c in smdp.calls()]
    assert [r.outcome for r in rows] == [CallOutcome.SUCCESS] * 2 + [CallOutcome.FAILED]
    assert all(r.operator_id == "mts" and r.http_status == 200 for r in rows)
    assert all(r.finished_at is not None and r.duration_ms is not None for r in rows)
    assert rows[0].iccid == iccid  # known only from the answer
    assert rows[1].request["confirmationCode"] == "***"
    assert (rows[2].subject_code, rows[2].reason_code) == ("8.2.1", "3.9")
    assert rows[2].status is ExecutionStatus.FAILED


def test_a_call_is_logged_before_it_is_sent(
    serve_asgi: ServeAsgi, make_client: ClientFactory, main_sessions: sessionmaker[Session]
) -> None:
    seen: list[list[tuple[str, CallOutcome | None]]] = []
    peer = Scripted(status=503)

    async def peek(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append([(r.function_call_id, r.outcome) for r in log_rows(main_sessions)])
        await peer(scope, receive, send)

    with pytest.raises(TransientIntegrationError):
        make_client(serve_asgi(peek)).release_profile(iccid=UNKNOWN_ICCID)

    (row,) = log_rows(main_sessions)
    assert seen == [[(row.function_call_id, None)]]
    assert row.outcome is CallOutcome.TRANSIENT


def _released(client: Es2PlusClient, iccid: str, eid: str | None = None) -> str:
    assert client.download_order(iccid=iccid, eid=eid).succeeded
    return client.confirm_order(iccid=iccid, release=True).data["matchingId"]


def _downloaded(client: Es2PlusClient, smdp: SmdpEmulator, iccid: str) -> None:
    smdp.download(_released(client, iccid), EID_A)


# Every code of es2plus.md's table the emulator produces, reached through the real client.
Scenario = Callable[[Es2PlusClient, SmdpEmulator, list[str]], Es2Outcome]
SCENARIOS: dict[str, tuple[Scenario, StatusCode]] = {
    "download unknown iccid": (
        lambda c, s, i: c.download_order(iccid=UNKNOWN_ICCID),
        codes.ICCID_UNKNOWN,
    ),
    "download iccid in use": (
        lambda c, s, i: (c.download_order(iccid=i[0]), c.download_order(iccid=i[0]))[1],
        codes.ICCID_IN_USE,
    ),
    "download unknown type": (
        lambda c, s, i: c.download_order(profile_type="nope"),
        codes.PROFILE_TYPE_UNKNOWN,
    ),
    "download type exhausted": (
        lambda c, s, i: (
            c.download_order(profile_type="iot"),
            c.download_order(profile_type="iot"),
        )[1],
        codes.PROFILE_TYPE_EXHAUSTED,
    ),
    "download type mismatch": (
        lambda c, s, i: c.download_order(iccid=i[0], profile_type="iot"),
        codes.PROFILE_TYPE_MISMATCH,
    ),
    "confirm unknown iccid": (
        lambda c, s, i: c.confirm_order(iccid=UNKNOWN_ICCID, release=True),
        codes.ICCID_UNKNOWN,
    ),
    "confirm a different eid": (
        lambda c, s, i: (
            c.download_order(iccid=i[0], eid=EID_A),
            c.confirm_order(iccid=i[0], release=True, eid=EID_B),
        )[1],
        codes.EID_DIFFERENT,
    ),
    "confirm sm-ds without eid": (
        lambda c, s, i: (
            c.download_order(iccid=i[0]),
            c.confirm_order(iccid=i[0], release=True, smds_address="smds.example"),
        )[1],
        codes.EID_MISSING,
    ),
    "confirm matching id taken": (
        lambda c, s, i: (
            c.download_order(iccid=i[0]),
            c.confirm_order(iccid=i[0], release=True, matching_id="TAKEN"),
            c.download_order(iccid=i[1]),
            c.confirm_order(iccid=i[1], release=True, matching_id="TAKEN"),
        )[3],
        codes.MATCHING_ID_CONFLICT,
    ),
    "confirm an available profile": (
        lambda c, s, i: c.confirm_order(iccid=i[0], release=True),
        codes.INVALID_STATE_TRANSITION,
    ),
    "cancel unknown iccid": (
        lambda c, s, i: c.cancel_order(iccid=UNKNOWN_ICCID, final_status=AVAILABLE),
        codes.ICCID_UNKNOWN,
    ),
    "cancel downloaded": (
        lambda c, s, i: (
            _downloaded(c, s, i[0]),
            c.cancel_order(iccid=i[0], final_status=AVAILABLE),
        )[1],
        codes.PROFILE_ALREADY_DOWNLOADED,
    ),
    "cancel a different eid": (
        lambda c, s, i: (
            c.download_order(iccid=i[0], eid=EID_A),
            c.cancel_order(iccid=i[0], final_status=AVAILABLE, eid=EID_B),
        )[1],
        codes.EID_DIFFERENT_ON_CANCEL,
    ),
    "cancel a different matching id": (
        lambda c, s, i: (
            _released(c, i[0]),
            c.cancel_order(iccid=i[0], final_status=AVAILABLE, matching_id="OTHER"),
        )[1],
        codes.MATCHING_ID_DIFFERENT,
    ),
    "cancel an available profile": (
        lambda c, s, i: c.cancel_order(iccid=i[0], final_status=AVAILABLE),
        codes.INVALID_STATE_TRANSITION,
    ),
    "release unknown iccid": (
        lambda c, s, i: c.release_profile(iccid=UNKNOWN_ICCID),
        codes.ICCID_UNKNOWN,
    ),
    "release an allocated profile": (
        lambda c, s, i: (c.download_order(iccid=i[0]), c.release_profile(iccid=i[0]))[1],
        codes.INVALID_STATE_TRANSITION,
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_refusal_arrives_as_a_definite_failure_with_its_code(
    name: str,
    client: Es2PlusClient,
    smdp: SmdpEmulator,
    iccids: list[str],
    main_sessions: sessionmaker[Session],
) -> None:
    scenario, code = SCENARIOS[name]

    outcome = scenario(client, smdp, iccids)

    assert failed_with(outcome, code), outcome
    last = log_rows(main_sessions)[-1]
    assert last.outcome is CallOutcome.FAILED
    assert (last.subject_code, last.reason_code) == (code.subject, code.reason)
    assert smdp.calls()[-1].function_call_id == last.function_call_id


def test_identifiers_that_cannot_be_valid_are_never_sent(
    client: Es2PlusClient, recorder: Recorder, main_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(ValueError, match="EID"):
        client.download_order(profile_type="consumer", eid="1234")
    with pytest.raises(ValueError, match="iccid or a profileType"):
        client.download_order()

    assert recorder.requests == []
    assert log_rows(main_sessions) == []


# --- per SM-DP+ settings (docs/es2plus.md, "Per SM-DP+ settings") ---------------------------


def test_an_smdp_that_wants_f_padded_iccids_is_sent_them(
    serve_asgi: ServeAsgi, recorder: Recorder, make_client: ClientFactory, iccids: list[str]
) -> None:
    client = make_client(serve_asgi(recorder), pad_iccid=True)
    assert len(iccids[0]) == 19
    outcome = client.download_order(iccid=iccids[0], eid=EID_A)

    assert outcome.succeeded
    assert json.loads(recorder.requests[-1].body)["iccid"] == iccids[0] + "F"
    assert outcome.data["iccid"] == iccids[0]  # read back the same profile, unpadded
    client.cancel_order(iccid=iccids[0], final_status=AVAILABLE, eid=EID_A)
    assert json.loads(recorder.requests[-1].body)["iccid"] == iccids[0] + "F"


def test_the_admin_protocol_sent_is_the_smdps_setting(
    serve_asgi: ServeAsgi, recorder: Recorder, make_client: ClientFactory
) -> None:
    client = make_client(serve_asgi(recorder), admin_protocol="gsma/rsp/v2.2.0")
    outcome = client.download_order(profile_type="consumer")

    assert outcome.succeeded  # the emulator answers v2.5.0: the same major version
    assert recorder.requests[-1].headers["x-admin-protocol"] == "gsma/rsp/v2.2.0"


def test_a_reply_of_another_major_version_than_the_setting_is_no_es2plus_answer(
    serve_asgi: ServeAsgi, recorder: Recorder, make_client: ClientFactory
) -> None:
    client = make_client(serve_asgi(recorder), admin_protocol="gsma/rsp/v3.1.0")
    with pytest.raises(PermanentIntegrationError) as raised:
        client.download_order(profile_type="consumer")
    assert raised.value.code == "not-es2plus"
    assert "gsma/rsp/v3.x" in str(raised.value)


def test_the_per_smdp_settings_are_read_from_the_operators_smdp_table() -> None:
    table = {
        "url": "https://smdp.example",
        "requester_id": REQUESTER,
        "admin_protocol": "gsma/rsp/v2.2.0",
        "iccid_f_padding": True,
    }
    config = Es2PlusConfig.from_mapping(table)
    assert (config.admin_protocol, config.pad_iccid) == ("gsma/rsp/v2.2.0", True)
    plain = Es2PlusConfig.from_mapping({"url": "https://smdp.example", "requester_id": REQUESTER})
    assert (plain.admin_protocol, plain.pad_iccid) == ("gsma/rsp/v2.5.0", False)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"admin_protocol": "2.2.0"}, "X-Admin-Protocol must look like"),
        ({"admin_protocol": "gsma/rsp/v2.2"}, "X-Admin-Protocol must look like"),
        ({"iccid_f_padding": "yes"}, "iccid_f_padding must be true or false"),
    ],
)
def test_a_wrong_per_smdp_setting_stops_the_start(setting: dict[str, object], message: str) -> None:
    table = {"url": "https://smdp.example", "requester_id": REQUESTER, **setting}
    with pytest.raises(ValueError, match=message):
        Es2PlusConfig.from_mapping(table)


def test_a_call_opened_in_the_callers_transaction_is_logged_with_it(
    client: Es2PlusClient,
    smdp: SmdpEmulator,
    iccids: list[str],
    main_sessions: sessionmaker[Session],
) -> None:
    """``open_call``: the log row commits with the caller's transaction, before the call;
    ``send`` leaves its end to the caller, who writes it with its own record."""
    message = DownloadOrder(profile_type="consumer")
    with main_sessions() as session, session.begin():
        client.open_call(session, message)
        session.rollback()  # the caller's transaction rolls back ...
    assert log_rows(main_sessions) == []  # ... and the log row with it
    with transaction(main_sessions) as session:
        opened = client.open_call(session, message)
    (started,) = log_rows(main_sessions)
    assert (started.function, started.outcome, started.finished_at) == (
        SmdpFunction.DOWNLOAD_ORDER,
        None,
        None,
    )
    outcome, end = client.send(opened)
    assert outcome.succeeded
    assert [c.function_call_id for c in smdp.calls()] == [started.function_call_id]
    assert log_rows(main_sessions)[0].outcome is None  # the end is the caller's to write
    with transaction(main_sessions) as session:
        end.write_in(session)
    (row,) = log_rows(main_sessions)
    assert (row.outcome, row.status, row.http_status, row.iccid) == (
        CallOutcome.SUCCESS,
        ExecutionStatus.SUCCESS,
        200,
        outcome.data["iccid"],  # known only from the answer
    )


def test_an_opened_call_that_fails_has_its_end_written_at_once(
    serve_asgi: ServeAsgi, make_client: ClientFactory, main_sessions: sessionmaker[Session]
) -> None:
    client = make_client(serve_asgi(Scripted(status=503)))
    with transaction(main_sessions) as session:
        opened = client.open_call(session, CancelOrder(UNKNOWN_ICCID, AVAILABLE))
    with pytest.raises(TransientIntegrationError):
        client.send(opened)
    (row,) = log_rows(main_sessions)
    assert (row.outcome, row.http_status) == (CallOutcome.TRANSIENT, 503)
