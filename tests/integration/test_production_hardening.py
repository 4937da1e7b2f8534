"""Production hardening: /metrics behind a bearer token, no API docs page (and no CDN scripts),
machine answers never cached or sniffed, and no working undo link stored in the database."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.app import create_app
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import request_cancellation, verify
from esimcare.config import Mode
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.service import list_esims
from esimcare.kit.tokens import digest
from esimcare.notices.models import Notice
from esimcare.runtime import build_worker
from tests.support import customer

TOKEN = "metrics-token-for-tests"


def production(ctx: Context, **changes: object) -> Context:
    """The same deployment answering as production does (the web door reads only settings)."""
    ctx.settings = ctx.settings.with_changes(mode=Mode.PRODUCTION, **changes)
    return ctx


def test_metrics_are_not_found_in_production_without_a_token(demo: Context) -> None:
    with TestClient(create_app(production(demo))) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "esimcare_jobs" not in answer.text


@pytest.mark.parametrize("mode", [Mode.PRODUCTION, Mode.DEVELOPMENT])
def test_metrics_with_a_token_configured_need_that_bearer_token(demo: Context, mode: Mode) -> None:
    demo.settings = demo.settings.with_changes(mode=mode, metrics_token=TOKEN)
    with TestClient(create_app(demo)) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "esimcare_jobs" not in refused.text
    assert right.status_code == 200
    assert "# TYPE esimcare_jobs gauge" in right.text


def test_the_metrics_token_is_read_from_the_environment(
    make_context, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ESIMCARE_METRICS_TOKEN", TOKEN)
    ctx: Context = make_context()
    assert ctx.settings.metrics_token == TOKEN


@pytest.mark.parametrize("mode", [Mode.PRODUCTION, Mode.DEVELOPMENT])
def test_no_docs_page_loads_scripts_from_a_cdn(demo: Context, mode: Mode) -> None:
    demo.settings = demo.settings.with_changes(mode=mode, api_docs=True)
    with TestClient(create_app(demo)) as client:
        for path in ("/api/docs", "/api/redoc", "/docs", "/redoc"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "cdn.jsdelivr" not in answer.text
        assert client.get("/api/openapi.json").status_code == 200


def test_the_openapi_document_is_off_in_production_unless_enabled(demo: Context) -> None:
    with TestClient(create_app(production(demo))) as client:
        assert client.get("/api/openapi.json").status_code == 404
    with TestClient(create_app(production(demo, api_docs=True))) as client:
        assert "/api/v1/{operator}/esims" in client.get("/api/openapi.json").json()["paths"]


def test_api_answers_are_neither_cached_nor_sniffed(demo: Context) -> None:
    with TestClient(create_app(demo)) as client:
        answers = [
            client.get("/api/v1/health"),
            client.get("/api/v1/nobody/esims"),  # a problem+json 404
            client.get("/api/v1/mts/esims"),  # 401
            client.post(
                "/api/v1/mts/sessions",
                content=b"{" * (demo.settings.limits.max_body_bytes + 1),
                headers={"content-type": "application/json"},
            ),  # 413 from the body size limit, before any route
            client.get("/metrics"),
        ]
    assert [a.status_code for a in answers] == [200, 404, 401, 413, 200]
    for answer in answers:
        assert "no-store" in answer.headers["Cache-Control"], answer.request.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.request.url


def schedule_beeline_cancellation(ctx: Context) -> int:
    """Li Wei's cancellation, verified by password: beeline has a 24-hour undo window."""
    li = customer(ctx, "beeline", "+79030000001")
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, "beeline", li.id)[0].esim.id
        requested = request_cancellation(
            session, ctx, li, esim_id, reason="not_needed", refund_to="+79161234567"
        )
        cancellation_id = requested.cancellation.id
    with transaction(ctx.sessions) as session:
        verify(session, ctx, li, cancellation_id, method="password", secret="demo-password-1")
    return cancellation_id


def test_no_working_undo_link_is_stored_and_the_sent_message_has_one(demo: Context) -> None:
    cancellation_id = schedule_beeline_cancellation(demo)
    with transaction(demo.sessions) as session:
        stored = [n.body for n in session.scalars(select(Notice))]
    assert stored and any("[[undo-link:" in body for body in stored)
    assert not any("/undo/" in body for body in stored)
    build_worker(demo).run_until_idle()  # sends the notices
    sent = [m.body for m in demo.sms.messages(to="+79030000001") if "/undo/" in m.body]
    assert len(sent) == 1 and "[[undo-link" not in sent[0]
    found = re.search(r"https?://\S+/beeline/undo/([A-Za-z0-9_\-]+)", sent[0])
    assert found
    token = found.group(1)
    with transaction(demo.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        assert cancellation.undo_token_hash == digest(token)
        assert not any(token in n.body for n in session.scalars(select(Notice)))
    with TestClient(create_app(demo), base_url="https://testserver") as client:
        page = client.get(f"/beeline/undo/{token}")
        outbox = client.get("/api/v1/dev/outbox", params={"to": "+79030000001"}).json()
    assert page.status_code == 200
    assert any(f"/beeline/undo/{token}" in item["body"] for item in outbox["items"])


def test_an_undo_link_is_left_out_rather_than_sent_dead(demo: Context) -> None:
    """If the secret key changes between the request and the sending, the link could not work."""
    schedule_beeline_cancellation(demo)
    demo.settings = demo.settings.with_changes(secret_key=b"another-key")
    build_worker(demo).run_until_idle()
    bodies = [m.body for m in demo.sms.messages(to="+79030000001")]
    assert not any("/undo/" in body or "[[undo-link" in body for body in bodies)
