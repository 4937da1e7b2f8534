"""Shared plumbing for the emulators' HTTP faces (Starlette apps over an emulator object).

Errors leave as RFC 9457 problem+json with a ``code`` member, the same shape the real clients
parse, so a client contract-tested against an emulator app handles the real provider's refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError

PROBLEM_JSON = "application/problem+json"


class BadRequestError(Exception):
    """The request body does not follow the documented API."""


def problem(status: int, code: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise BadRequestError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequestError("the body must be a JSON object")
    return data


def text_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadRequestError(f"{name!r} must be a string")
    return value


def error_handlers(statuses: Mapping[str, int]) -> dict[Any, Any]:
    """Exception handlers: permanent -> 4xx by code (422 by default), transient -> 503."""

    async def permanent(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PermanentIntegrationError)
        code = exc.code or "refused"
        return problem(statuses.get(code, 422), code, str(exc))

    async def transient(_request: Request, exc: Exception) -> Response:
        return problem(503, "unavailable", str(exc))

    async def bad_request(_request: Request, exc: Exception) -> Response:
        return problem(400, "bad-request", str(exc))

    return {
        PermanentIntegrationError: permanent,
        TransientIntegrationError: transient,
        BadRequestError: bad_request,
    }
