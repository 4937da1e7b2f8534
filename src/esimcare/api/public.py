"""Endpoints that need no login: health and the list of operators."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from esimcare.api.deps import CtxDep, LanguageDep
from esimcare.api.problems import PARAMETERS, problem_responses
from esimcare.api.render import operator_out
from esimcare.api.schemas import Health, OperatorList

router = APIRouter(prefix="/api/v1", tags=["public"])


_HEALTHY = Health(status="ok").model_dump_json().encode()


@router.get("/health", summary="Liveness", response_model=Health)
async def health() -> Response:
    """No dependency, no thread, no validation: liveness costs only the HTTP layer."""
    return Response(_HEALTHY, media_type="application/json")


@router.get(
    "/operators",
    summary="Operators served here, with their support contacts",
    responses=problem_responses(*PARAMETERS),
)
async def operators(ctx: CtxDep, language: LanguageDep) -> OperatorList:
    return OperatorList(items=[operator_out(p, language) for p in ctx.policies.values()])
