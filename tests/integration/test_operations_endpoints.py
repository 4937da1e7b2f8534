"""Readiness and metrics, as an operator's monitoring would read them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from esimcare.app import create_app
from esimcare.context import Context
from esimcare.runtime import build_worker
from tests.support import request_and_verify_mts


def test_a_migrated_database_is_ready(demo: Context) -> None:
    with TestClient(create_app(demo)) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_an_unmigrated_database_is_not_ready(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(seed=False)
    with ctx.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    with TestClient(create_app(ctx)) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert "0001" in response.json()["detail"]


def test_metrics_count_jobs_cancellations_and_refunds(demo: Context) -> None:
    request_and_verify_mts(demo)
    build_worker(demo).run_until_idle()
    with TestClient(create_app(demo)) as client:
        body = client.get("/metrics").text
    assert "# TYPE esimcare_jobs gauge" in body
    # The steps that call out (profile with the final bill before it, network, refund with
    # the closing notice after it) run in one job row, handed on from step to step; its four
    # notices are delivered by jobs of their own.
    assert 'esimcare_jobs{kind="cancellation.step",status="done"} 1' in body
    assert 'esimcare_jobs{kind="notice.deliver",status="done"} 4' in body
    assert 'esimcare_cancellations{operator_id="mts",status="completed"} 1' in body
    assert 'esimcare_refunds{operator_id="mts",status="succeeded"} 1' in body
    assert 'esimcare_refunded_minor_units{operator_id="mts",currency="RUB"}' in body
