"""Signed webhooks to the operator's own systems, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from esimcare.app import create_app
from esimcare.audit.models import AuditEvent
from esimcare.cancellations.service import request_cancellation
from esimcare.config import Mode
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import NotFoundError
from esimcare.esims.models import Esim
from esimcare.esims.service import list_esims
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from esimcare.webhooks.delivery import (
    InsecureWebhookError,
    attempts_of,
    check_targets,
    list_deliveries,
    send_again,
)
from esimcare.webhooks.models import DeliveryStatus, WebhookDelivery
from esimcare.webhooks.signing import SignatureError, WebhookVerifier, signature_header
from tests.integration.test_es2plus_receiver_security import (
    encoded,
    notification,
    released_iccid,
    signed,
)
from tests.support import customer, request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SECRET = "whsec-test-0123456789abcdef"


@dataclass
class Receiver:
    """The operator's CRM: verifies each request, answers from a script (then 200)."""

    clock: FrozenClock
    script: list[int] = field(default_factory=list)
    accepted: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.verifier = WebhookVerifier(SECRET)
        self.lock = threading.Lock()

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            if self.script:
                return self.script.pop(0)
            try:
                event_id = self.verifier.verify(headers, body, self.clock.now())
            except SignatureError as error:
                self.refused.append(str(error))
                return 400
            self.accepted.append((event_id, headers, body))
            return 200


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    state = Receiver(clock)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock, receiver: Receiver) -> Context:  # type: ignore[no-untyped-def]
    built: Context = make_context(database_url=db_url, clock=clock)
    for operator_id in ("mts", "beeline"):
        policy = built.policies[operator_id]
        hooks = {"url": receiver.url, "secret": SECRET}
        built.policies[operator_id] = dataclasses.replace(policy, webhooks=hooks)
    return built


def drain(ctx: Context, rounds: int = 12, step: timedelta = timedelta(minutes=10)) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(step)


def deliveries(ctx: Context, operator_id: str = "mts") -> list[WebhookDelivery]:
    with transaction(ctx.sessions) as session:
        return list(reversed(list_deliveries(session, operator_id)))


def test_a_cancellation_sends_signed_requested_scheduled_and_completed_events(
    ctx: Context, receiver: Receiver
) -> None:
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx)
    types = [d.event_type for d in deliveries(ctx)]
    assert types == [
        "cancellation.requested",
        "cancellation.scheduled",
        "cancellation.completed",
    ]
    assert all(d.status is DeliveryStatus.DELIVERED for d in deliveries(ctx))
    assert len(receiver.accepted) == 3 and receiver.refused == []
    event_id, headers, body = receiver.accepted[-1]
    assert headers["Esimcare-Event-Id"] == event_id
    assert b'"type":"cancellation.completed"' in body and b'"iccid":"89' in body


def test_a_delivery_answered_500_is_retried_and_every_attempt_is_logged(
    ctx: Context, receiver: Receiver
) -> None:
    receiver.script = [500]
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx)
    first = deliveries(ctx)[0]
    assert first.status is DeliveryStatus.DELIVERED and first.attempts == 2
    with transaction(ctx.sessions) as session:
        log = attempts_of(session, "mts", first.id)
    assert [a.status_code for a in log] == [500, 200]
    assert all(a.latency_ms >= 0 for a in log) and log[1].at > log[0].at
    assert len(receiver.accepted) == 3  # the retry of the first event, then the other two


def test_the_verifier_refuses_a_replay_an_old_timestamp_and_a_changed_body(
    ctx: Context, receiver: Receiver
) -> None:
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx, rounds=1)
    event_id, headers, body = receiver.accepted[0]
    signed_at = datetime.fromtimestamp(int(headers["Esimcare-Signature"][2:12]), UTC)
    with pytest.raises(SignatureError, match="already received"):
        receiver.verifier.verify(headers, body, signed_at + timedelta(seconds=5))
    fresh = WebhookVerifier(SECRET)
    with pytest.raises(SignatureError, match="timestamp"):
        fresh.verify(headers, body, signed_at + timedelta(seconds=301))
    with pytest.raises(SignatureError, match="does not match"):
        fresh.verify(headers, body.replace(b"cancellation", b"Cancellation"), signed_at)
    forged = {"Esimcare-Signature": signature_header("not-the-secret", 1, body)}
    with pytest.raises(SignatureError, match="does not match"):
        fresh.verify(forged, body, signed_at)
    assert fresh.verify(headers, body, signed_at + timedelta(seconds=299)) == event_id


def test_a_delivery_refused_with_4xx_fails_and_send_again_delivers_it(
    ctx: Context, receiver: Receiver
) -> None:
    receiver.script = [410]
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx, rounds=1)
    first = deliveries(ctx)[0]
    assert first.status is DeliveryStatus.FAILED and first.last_status_code == 410
    with transaction(ctx.sessions) as session:
        send_again(session, "mts", first.id, actor="staff:3", why="CRM fixed", now=ctx.clock.now())
    drain(ctx, rounds=1)
    assert deliveries(ctx)[0].status is DeliveryStatus.DELIVERED
    with transaction(ctx.sessions) as session:
        audit = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "staff.webhook.send_again")
        )
        assert audit is not None and audit.actor == "staff:3"
        with pytest.raises(NotFoundError):
            send_again(session, "beeline", first.id, actor="staff:3", why="x", now=ctx.clock.now())


def test_events_are_written_with_the_state_change_and_vanish_with_its_rollback(
    ctx: Context,
) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    written = []

    def request_then_fail() -> None:
        with transaction(ctx.sessions) as session:
            esim_id = list_esims(session, "mts", anna.id)[1].esim.id
            request_cancellation(session, ctx, anna, esim_id, reason="not_needed")
            written.append(session.scalar(select(func.count()).select_from(WebhookDelivery)))
            raise RuntimeError("the request fails after the change")

    with pytest.raises(RuntimeError):
        request_then_fail()
    assert written == [1]
    assert deliveries(ctx) == []


def test_an_operator_without_webhooks_gets_no_events(ctx: Context) -> None:
    policy = ctx.policies["mts"]
    ctx.policies["mts"] = dataclasses.replace(policy, webhooks={})
    request_and_verify_mts(ctx, esim_index=1)
    assert deliveries(ctx) == []


def test_production_refuses_a_plain_http_webhook_url(ctx: Context) -> None:
    production = dataclasses.replace(ctx, settings=ctx.settings.with_changes(mode=Mode.PRODUCTION))
    with pytest.raises(InsecureWebhookError, match="https"):
        check_targets(production)
    https = {"url": "https://crm.example/hooks", "secret": SECRET}
    for operator_id in production.policies:
        policy = production.policies[operator_id]
        production.policies[operator_id] = dataclasses.replace(policy, webhooks=https)
    check_targets(production)


def test_esim_installed_and_deleted_reports_become_events(ctx: Context) -> None:
    # What esims/profile_events.py records when the SM-DP+ reports the phone's progress.
    with transaction(ctx.sessions) as session:
        esim = session.scalar(select(Esim).where(Esim.msisdn == "+79160000002"))
        assert esim is not None
        esim.installed_at = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        esim = session.scalar(select(Esim).where(Esim.msisdn == "+79160000002"))
        assert esim is not None
        esim.deleted_on_device_at = ctx.clock.now()
        esim.label = "unrelated change"
    with transaction(ctx.sessions) as session:
        esim = session.scalar(select(Esim).where(Esim.msisdn == "+79160000002"))
        assert esim is not None
        esim.label = "no event for this"
    events = [(d.event_type, d.payload["data"]["msisdn"]) for d in deliveries(ctx)]
    assert events == [("esim.installed", "+79160000002"), ("esim.deleted", "+79160000002")]


def test_install_reports_received_over_es2plus_become_one_event(ctx: Context) -> None:
    # The same, end to end: the SM-DP+'s notifications through the receiver (and its group
    # writer) into the outbox, once each even when the SM-DP+ sends one twice.
    with TestClient(create_app(ctx)) as client:
        iccid = released_iccid(ctx)
        for point in (3, 4, 4):
            answer = signed(client, ctx, encoded(notification(ctx, iccid, point)))
            assert answer.status_code == 204, answer.text
    events = [(d.event_type, d.payload["data"]["iccid"]) for d in deliveries(ctx)]
    assert events == [("esim.installed", iccid)]
