"""Mounts the REST API (``/api/v1``) on the web app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from esimcare.api import cancellations, esims, operations, ordering, public, sessions
from esimcare.api.problems import problem_responses, publish_problem_schema
from esimcare.context import Context
from esimcare.es2plus import receiver

# Unreadable body, unproven sender, unknown operator, too large, not JSON.
RECEIVER_PROBLEMS = (400, 403, 404, 413, 415, 422)


def install_api(app: FastAPI, ctx: Context) -> None:
    # The busiest doors first: a request is matched against the routers in this order (no two
    # of them share a path), and each router passed over costs time on every request.
    app.include_router(public.router)
    # The receiver's own answers (its sender is the SM-DP+, not a customer): documented here so
    # that its module stays about ES2+.
    app.include_router(receiver.router, responses=problem_responses(*RECEIVER_PROBLEMS))
    app.include_router(esims.router)
    app.include_router(operations.router)
    app.include_router(sessions.router)
    app.include_router(cancellations.router)
    app.include_router(ordering.router)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """FastAPI builds the document once, on first use; the Problem schema joins it then."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = publish_problem_schema(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
