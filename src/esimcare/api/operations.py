"""For the people who run it: readiness and metrics (liveness is /api/v1/health)."""

from __future__ import annotations

import hmac
from typing import Annotated

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Header, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

from esimcare.api.deps import CtxDep
from esimcare.api.problems import problem_responses
from esimcare.config import Settings
from esimcare.migrate import alembic_config
from esimcare.observability.metrics import scrape

router = APIRouter(tags=["operations"])


@router.get(
    "/api/v1/ready",
    summary="Readiness: the database answers and is migrated",
    responses=problem_responses(503),
)
def ready(ctx: CtxDep) -> JSONResponse:
    head = ScriptDirectory.from_config(alembic_config(ctx.settings.database_url)).get_current_head()
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        return _not_ready(f"the database does not answer: {type(error).__name__}")
    if current != head:
        return _not_ready(f"the database is at revision {current}, the code needs {head}")
    return JSONResponse({"status": "ready", "revision": current})


def _not_ready(detail: str) -> JSONResponse:
    problem = {"type": "about:blank", "title": "Not ready", "status": 503, "detail": detail}
    return JSONResponse(problem, status_code=503, media_type="application/problem+json")


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics(ctx: CtxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    refusal = _metrics_refusal(ctx.settings, authorization)
    if refusal is not None:
        return refusal
    body = scrape(ctx.readers)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


def _metrics_refusal(settings: Settings, authorization: str | None) -> Response | None:
    """security.md: /metrics is not on the public site without a token. With a token set,
    only its bearer reads; without one, development reads freely and production finds
    nothing there at all."""
    token = settings.metrics_token
    if not token:
        if settings.development:
            return None
        raise StarletteHTTPException(status.HTTP_404_NOT_FOUND)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    return PlainTextResponse(
        "a bearer token is required\n",
        status_code=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
    )
