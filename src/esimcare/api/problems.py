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

from esimcare.api.deps import negotiate_language
from esimcare.errors import DomainError, InvalidInputError
from esimcare.i18n import N_, translate
from esimcare.web.headers import MACHINE_HEADERS

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://esimcare.dev/problems/"
_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
# Titles of the errors the framework raises (a path that names nothing, a wrong method...), in
# our words so the catalogs can translate them; any other status keeps its English phrase.
_HTTP_TITLES = {
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("The request body is too large"),
    415: N_("The request body is not of a media type this endpoint reads"),
}
MALFORMED_JSON = N_("Malformed JSON")
MALFORMED_JSON_DETAIL = N_("The request body is not valid JSON.")
INVALID_INPUT_DETAIL = N_("Some fields are missing or have the wrong type.")


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


def language_of(request: Request) -> str:
    """The caller's language (Accept-Language), as the ``language`` dependency would find it:
    handlers of errors raised before or outside the route get no dependencies."""
    return negotiate_language(request.headers.get("accept-language"))


def _in_language(request: Request, title: str, detail: str) -> tuple[str, str]:
    """Title and detail for people, in their language; ``type`` and ``code`` stay English
    for programs. A detail that only repeats the title follows it into the language."""
    language = language_of(request)
    translated = translate(title, language)
    return translated, (translated if detail == title else translate(detail, language))


def problem_for_error(request: Request, error: DomainError) -> Response:
    title, detail = error.title, error.detail
    if error.translated:
        title, detail = _in_language(request, title, detail)
    headers: dict[str, str] = {}
    retry_after = error.extra.get("retry_after")
    if isinstance(retry_after, int) and retry_after > 0:
        headers["Retry-After"] = str(retry_after)
    if error.status == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        # A server error is answered from outside the layer that adds the machine headers
        # (``web.headers``): added here, so no cache keeps a passing failure either.
        headers |= MACHINE_HEADERS
    return problem(
        request,
        status=error.status,
        code=error.code,
        title=title,
        detail=detail,
        extra=error.extra,
        headers=headers,
    )


def problem_for_validation(request: Request, error: RequestValidationError) -> Response:
    """Unparseable JSON is 400; JSON of the wrong shape is 422 with each field's complaint."""
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        title, detail = _in_language(request, MALFORMED_JSON, MALFORMED_JSON_DETAIL)
        return problem(request, status=400, code="malformed-json", title=title, detail=detail)
    # Each field's ``msg`` comes from pydantic and stays English, beside its ``type`` for programs.
    title, detail = _in_language(request, InvalidInputError.title, INVALID_INPUT_DETAIL)
    return problem(
        request,
        status=422,
        code="invalid-input",
        title=title,
        detail=detail,
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
    title = _HTTP_TITLES.get(status, phrase)
    # Starlette's default detail is the phrase again: then it is our title, translated with it.
    detail = str(error.detail) if error.detail and error.detail != phrase else title
    title, detail = _in_language(request, title, detail)
    return problem(
        request, status=status, code=code, title=title, detail=detail, headers=error.headers
    )


# --- the same errors, as the OpenAPI document declares them -----------------------------------

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "type": "object",
    "description": "RFC 9457 problem details; `code` names the problem for programs.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 invalid-input: each field's complaint",
            "items": {"type": "object"},
        },
    },
}
_WHEN = {
    400: "Malformed JSON, or a required header (Idempotency-Key) is missing",
    401: "No valid session: send `Authorization: Bearer <token>` from POST .../sessions",
    403: "Not allowed for this caller",
    404: "No such operator, or nothing with this id on the caller's account",
    409: "Conflicts with the current state (or the same Idempotency-Key is still running)",
    413: "The request body is over the size limit",
    415: "The request body is not of a media type this endpoint reads",
    422: "Fields missing, of the wrong type or refused by the rules",
    423: "The account is locked against this",
    429: "Too many attempts or requests; `Retry-After` says when to try again",
    502: "A system we depend on answered with something we cannot read",
    503: "A system we depend on is unavailable; `Retry-After` says when to try again",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for routes: each status answered with a problem+json body."""
    schema = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _WHEN.get(status, HTTPStatus(status).phrase),
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        documented[status] = entry
    return documented


# Every route with a parameter (FastAPI would otherwise declare its own 422 as application/json).
PARAMETERS = (422,)
# Every route under /api/v1/{operator}: the operator may be one we do not serve.
OPERATOR = (404, *PARAMETERS)
# Every route that needs a session.
CUSTOMER = (401, *OPERATOR)
# Every route that reads a JSON body.
JSON_BODY = (400, 413, *PARAMETERS)
# Every route that creates something under an Idempotency-Key (missing: 400; running: 409).
IDEMPOTENT = (400, 409)


def publish_problem_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the one Problem schema the ``$ref`` of every error response points to."""
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    return openapi
