"""Every API error as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from esimcare.errors import DomainError

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://esimcare.dev/problems/"
_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one renderer; extension members never overwrite the standard ones."""
    body = {
        **jsonable_encoder(dict(extra or {})),
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def problem_for_error(request: Request, error: DomainError) -> Response:
    headers: dict[str, str] = {}
    retry_after = error.extra.get("retry_after")
    if isinstance(retry_after, int) and retry_after > 0:
        headers["Retry-After"] = str(retry_after)
    if error.status == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        extra=error.extra,
        headers=headers,
    )


def problem_for_validation(request: Request, error: RequestValidationError) -> Response:
    """Unparseable JSON is 400; JSON of the wrong shape is 422 with each field's complaint."""
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return problem(
            request,
            status=400,
            code="malformed-json",
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
        )
    return problem(
        request,
        status=422,
        code="invalid-input",
        title="Invalid input",
        detail="Some fields are missing or have the wrong type.",
        extra={"errors": _field_errors(errors)},
    )


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # The offending input is left out on purpose: it may be a password.
    return [
        {
            "loc": [part for part in item.get("loc", ()) if isinstance(part, str | int)],
            "msg": str(item.get("msg", "")),
            "type": str(item.get("type", "")),
        }
        for item in errors
    ]


def problem_for_http(request: Request, error: StarletteHTTPException) -> Response:
    status = error.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = _HTTP_CODES.get(status, phrase.lower().replace(" ", "-"))
    detail = str(error.detail) if error.detail else phrase
    return problem(
        request, status=status, code=code, title=phrase, detail=detail, headers=error.headers
    )
