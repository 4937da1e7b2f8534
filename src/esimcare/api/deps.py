"""What every endpoint depends on: the context, the operator, the caller and their language."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from esimcare.context import Context
from esimcare.customers.authenticate import authenticate
from esimcare.customers.models import AuthSession, Customer
from esimcare.customers.sessions import Authenticated
from esimcare.errors import AuthenticationError
from esimcare.operators.policy import LANGUAGES, Policy
from esimcare.web.client_address import request_client_address

DEFAULT_LANGUAGE = "en"
_MAX_AUTHORIZATION = 512


def get_ctx(request: Request) -> Context:
    return cast(Context, request.app.state.ctx)


# The dependencies are ``async def`` unless they do I/O: FastAPI runs a plain ``def`` in the
# thread pool, one hop per dependency per request, which costs more than the work itself.
async def _ctx(request: Request) -> Context:
    return get_ctx(request)


CtxDep = Annotated[Context, Depends(_ctx)]


async def operator_policy(operator: str, ctx: CtxDep) -> Policy:
    """The ``{operator}`` path parameter; an unknown operator is 404 before anything else."""
    return ctx.policy(operator)


PolicyDep = Annotated[Policy, Depends(operator_policy)]


async def bearer_token(
    policy: PolicyDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The token of ``Authorization: Bearer <token>``, not yet checked. Depends on the
    operator so that an unknown operator is 404 before a missing token is 401."""
    return bearer_token_of(authorization)


BearerDep = Annotated[str, Depends(bearer_token)]


async def authenticated(policy: PolicyDep, ctx: CtxDep, token: BearerDep) -> Authenticated:
    """The customer behind ``Authorization: Bearer <token>``, for this operator only: a token
    of another operator is refused like a wrong one (resolve_session checks the tenant)."""
    return await run_in_threadpool(authenticate, ctx, policy.operator_id, token)


AuthDep = Annotated[Authenticated, Depends(authenticated)]


def bearer_token_of(authorization: str | None) -> str:
    if not authorization or len(authorization) > _MAX_AUTHORIZATION:
        raise AuthenticationError("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("send Authorization: Bearer <token>")
    return token.strip()


def customer_in(session: Session, auth: Authenticated) -> Customer:
    """The caller's customer row, attached to this request's transaction."""
    customer = session.get(Customer, auth.customer.id)
    if customer is None:
        raise AuthenticationError()
    return customer


def auth_session_in(session: Session, auth: Authenticated) -> AuthSession:
    row = session.get(AuthSession, auth.session.id)
    if row is None:
        raise AuthenticationError()
    return row


async def language(accept_language: Annotated[str | None, Header()] = None) -> str:
    return negotiate_language(accept_language)


LanguageDep = Annotated[str, Depends(language)]


def negotiate_language(header: str | None) -> str:
    """The best of ru, en and zh for an Accept-Language header (q-values respected)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        quality = _quality(params)
        if primary not in LANGUAGES or quality <= 0:
            continue
        candidate = (-quality, position, primary)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else DEFAULT_LANGUAGE


def _quality(params: str) -> float:
    text = params.strip()
    if not text.startswith("q="):
        return 1.0
    try:
        return float(text[2:])
    except ValueError:
        return 0.0


def client_ip(request: Request) -> str | None:
    """The client's address; X-Forwarded-For counts only from a configured proxy."""
    return request_client_address(request, get_ctx(request).settings.trusted_proxies)


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")
