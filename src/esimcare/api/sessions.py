"""Logging in and out: POST /api/v1/{operator}/sessions, DELETE .../sessions/current."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from esimcare.api.deps import (
    AuthDep,
    CtxDep,
    PolicyDep,
    auth_session_in,
    client_ip,
    user_agent,
)
from esimcare.api.problems import CUSTOMER, JSON_BODY, OPERATOR, problem_responses
from esimcare.api.schemas import LoginRequest, SessionOut
from esimcare.customers.service import LoginAttempt, log_in
from esimcare.customers.sessions import revoke_session
from esimcare.db import transaction
from esimcare.kit.clock import iso

router = APIRouter(
    prefix="/api/v1/{operator}/sessions", tags=["sessions"], responses=problem_responses(*OPERATOR)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Log in",
    # 401 for a wrong login; 429 when failures or concurrent logins are throttled.
    responses=problem_responses(401, *JSON_BODY, 429),
)
def create_session(
    body: LoginRequest, policy: PolicyDep, ctx: CtxDep, request: Request, response: Response
) -> SessionOut:
    """The same 401 for an unknown login and a wrong password; 429 with Retry-After while
    this client address must wait after failed logins, or while the process is busy checking
    other passwords."""
    attempt = LoginAttempt(
        operator_id=policy.operator_id,
        login=body.login,
        password=body.password,
        client=client_ip(request),
        user_agent=user_agent(request),
        region=policy.region,
    )
    _, issued = log_in(ctx, attempt)
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(token=issued.token, expires_at=iso(issued.expires_at))


@router.delete(
    "/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out",
    responses=problem_responses(*CUSTOMER),
)
def delete_session(auth: AuthDep, ctx: CtxDep) -> Response:
    with transaction(ctx.sessions) as session:
        revoke_session(session, auth_session_in(session, auth), ctx.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
