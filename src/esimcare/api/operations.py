"""For the people who run it: readiness and metrics (liveness is /api/v1/health)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, PlainTextResponse

from esimcare.api.deps import CtxDep
from esimcare.api.problems import problem_responses
from esimcare.db import transaction
from esimcare.migrate import alembic_config
from esimcare.observability.metrics import collect, render

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
def metrics(ctx: CtxDep) -> PlainTextResponse:
    with transaction(ctx.readers) as session:
        body = render(collect(session))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
