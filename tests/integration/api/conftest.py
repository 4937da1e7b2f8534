"""Fixtures for the API tests: a client on the demo deployment, Anna's token, her eSIM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import api_client, installed_esim, log_in
from fastapi.testclient import TestClient

from esimcare.context import Context


@pytest.fixture
def client(demo: Context) -> Iterator[TestClient]:
    with api_client(demo) as client:
        yield client


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return log_in(client, "mts")


@pytest.fixture
def esim_id(client: TestClient, auth: dict[str, str]) -> int:
    return int(installed_esim(client, "mts", auth)["id"])
