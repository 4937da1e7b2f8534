"""An unexpected exception is a bug; it must still reach the client as a clean answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from esimcare.app import create_app
from esimcare.context import Context


def test_an_unexpected_exception_becomes_a_problem_without_a_traceback(demo: Context) -> None:
    app = create_app(demo)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "internal-error"
    assert "secret internals" not in response.text


def test_an_unexpected_exception_in_the_portal_is_a_readable_page(demo: Context) -> None:
    app = create_app(demo)

    @app.get("/mts/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/mts/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "secret internals" not in response.text
