"""The caller's eSIMs and the operator's cancellation reasons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic_core import to_json
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from esimcare.api.deps import (
    AuthDep,
    CtxDep,
    LanguageDep,
    PolicyDep,
    bearer_token_of,
    get_ctx,
    negotiate_language,
)
from esimcare.api.direct_readers import direct_readers
from esimcare.api.problems import CUSTOMER, OPERATOR, problem_responses
from esimcare.api.render import esim_line_json, esim_out, reasons_out
from esimcare.api.schemas import EsimList, EsimOut, ReasonList
from esimcare.api.types import EntityId
from esimcare.customers.authenticate import Caller, touch
from esimcare.customers.sessions import touch_due_since
from esimcare.db import transaction
from esimcare.esims.listing import EsimLine, caller_and_lines, caller_and_lines_async
from esimcare.esims.service import get_esim

router = APIRouter(
    prefix="/api/v1/{operator}", tags=["esims"], responses=problem_responses(*OPERATOR)
)
JSON = "application/json"


def _optional_header(name: str, title: str) -> dict[str, Any]:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title}
    return {"name": name, "in": "header", "required": False, "schema": schema}


# The list's parameters as FastAPI documents them for its sibling endpoints (a test compares):
# the handler reads them from the request itself.
_OPERATOR = {"type": "string", "title": "Operator"}
_LIST_PARAMETERS = [
    {"name": "operator", "in": "path", "required": True, "schema": _OPERATOR},
    _optional_header("authorization", "Authorization"),
    _optional_header("accept-language", "Accept-Language"),
]


@router.get(
    "/esims",
    summary="The caller's eSIMs",
    # Documents the body; the handler returns it already serialised, so it is not re-validated.
    response_model=EsimList,
    responses=problem_responses(*CUSTOMER),
    openapi_extra={"parameters": _LIST_PARAMETERS},
)
async def list_my_esims(request: Request) -> Response:
    """The hottest read takes its parameters from the request and does what the shared
    dependencies would, in the same order (operator 404, then token 401): FastAPI's parameter
    and dependency solving costs more than the read itself."""
    ctx = get_ctx(request)
    policy = ctx.policy(request.path_params["operator"])
    token = bearer_token_of(request.headers.get("authorization"))
    language = negotiate_language(request.headers.get("accept-language"))
    now = ctx.clock.now()
    readers = direct_readers(request.app)
    found: tuple[Caller, list[EsimLine]]
    if ctx.engine.dialect.name == "sqlite":
        # An indexed read of ~30 µs that a WAL reader never waits for: cheaper on the event
        # loop than the hop to a thread (measured: 3.4x the throughput at 16 connections).
        found = caller_and_lines(ctx.engine, policy.operator_id, token, now, ctx.settings.limits)
    elif readers is not None:  # PostgreSQL, served: the read waits on the loop
        found = await caller_and_lines_async(
            readers, policy.operator_id, token, now, ctx.settings.limits
        )
    else:  # PostgreSQL without the app's lifespan (a bare test client): in a thread
        found = await run_in_threadpool(
            caller_and_lines, ctx.engine, policy.operator_id, token, now, ctx.settings.limits
        )
    caller, lines = found
    body = to_json({"items": [esim_line_json(line, language) for line in lines]})
    # The idle-timeout refresh (at most once a minute) is written after the answer is sent.
    refresh = (
        BackgroundTask(touch, ctx, caller.session_id, now)
        if touch_due_since(caller.last_seen_at, now)
        else None
    )
    return Response(body, media_type=JSON, background=refresh)


@router.get(
    "/esims/{esim_id}", summary="One of the caller's eSIMs", responses=problem_responses(*CUSTOMER)
)
def get_my_esim(esim_id: EntityId, auth: AuthDep, ctx: CtxDep, language: LanguageDep) -> EsimOut:
    customer = auth.customer
    with transaction(ctx.readers) as session:
        return esim_out(get_esim(session, customer.operator_id, customer.id, esim_id), language)


@router.get("/cancellation-reasons", summary="Reasons a customer may give")
async def cancellation_reasons(policy: PolicyDep, language: LanguageDep) -> ReasonList:
    return reasons_out(policy, language)
