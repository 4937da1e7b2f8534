"""Helpers for the REST API tests: log in, request a cancellation, read codes, count rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

import esimcare.models  # noqa: F401 - registers every table on Base.metadata
from esimcare.app import create_app
from esimcare.context import Context
from esimcare.db import Base

PASSWORD = "demo-password-1"
LOGINS = {"mts": "+79160000001", "beeline": "+79030000001", "megafon": "+79250000001"}
PROBLEM = "application/problem+json"
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@contextmanager
def api_client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as client:
        yield client


def log_in(client: TestClient, operator: str, login: str | None = None) -> dict[str, str]:
    response = client.post(
        f"/api/v1/{operator}/sessions",
        json={"login": login or LOGINS[operator], "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def esims(client: TestClient, operator: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/{operator}/esims", headers=auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def installed_esim(client: TestClient, operator: str, auth: dict[str, str]) -> dict[str, Any]:
    return next(e for e in esims(client, operator, auth) if e["profile_state"] == "installed")


def request_cancellation(
    client: TestClient,
    operator: str,
    auth: dict[str, str],
    esim_id: int,
    *,
    key: str | None = "key-1",
    **body: Any,
) -> Response:
    headers = dict(auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/{operator}/esims/{esim_id}/cancellations",
        json={"reason": "not_needed", **body},
        headers=headers,
    )


def latest_code(client: TestClient, phone: str) -> str:
    """The newest one-time code sent by SMS to ``phone``, read from the development outbox."""
    response = client.get("/api/v1/dev/outbox", params={"to": phone})
    assert response.status_code == 200, response.text
    for message in response.json()["items"]:
        found = _CODE.search(message["body"]) if message["channel"] == "sms" else None
        if found:
            return found.group()
    raise AssertionError(f"no code was sent to {phone}")


def verify(
    client: TestClient, operator: str, auth: dict[str, str], cancellation_id: int, **body: str
) -> Response:
    return client.post(
        f"/api/v1/{operator}/cancellations/{cancellation_id}/verification",
        json=body,
        headers=auth,
    )


def row_counts(ctx: Context) -> dict[str, int]:
    """How many rows each table holds: a request that "changes nothing" leaves these alone."""
    with ctx.sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + code), body
    assert body["title"]
    return body
