"""The hottest doors, answered before FastAPI's routing: liveness and the caller's eSIMs; and
the ES2+ receiver's answer, which ``api.front_door`` serves from in front of the whole app.

FastAPI matches a request against every route in turn and solves an (empty) dependency graph
before the endpoint runs; on a read that costs ~30 µs in all that is most of the time. This
middleware recognises the paths by their shape and calls the very endpoints the routes serve
(``public.health``, ``esims.list_my_esims``; for a notification the receiver's
``receive_notification``, then the route's 204 with its headers, sent without building a
response object), so both entries give the same answer and the OpenAPI document is still
FastAPI's. It sits inside the body size limit. A refused list read (unknown operator, missing
token: a ``DomainError``) goes down the ordinary stack, which renders the problem exactly as
it always does; so does a GET that carries a body. A refused notification (its body is read
by then) is rendered by the same function the app's handler uses for machine paths.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from esimcare.api.esims import list_my_esims
from esimcare.api.problems import problem_for_error
from esimcare.api.public import health
from esimcare.errors import DomainError
from esimcare.es2plus.receiver import ANSWER_HEADERS, RECEIVER_PREFIX, receive_notification
from esimcare.integrations.smdp.messages import NOTIFICATION_PATH

_HEALTH = "/api/v1/health"
_API = "/api/v1/"
_ESIMS = "/esims"
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
_RECEIVER = RECEIVER_PREFIX + "/"


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or _has_body(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == _HEALTH:
            await (await health())(scope, receive, send)
            return
        operator = _esims_operator(path)
        if operator is None:
            await self.app(scope, receive, send)
            return
        request = Request({**scope, "path_params": {"operator": operator}})
        try:
            response = await list_my_esims(request)
        except DomainError:
            await self.app(scope, receive, send)  # refused: rendered where every refusal is
            return
        await response(scope, receive, send)


async def notification(operator: str, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request({**scope, "path_params": {"operator": operator}}, receive)
    try:
        await receive_notification(operator, request)
    except DomainError as error:
        await problem_for_error(request, error)(scope, receive, send)
        return
    # The route's 204, without building a Response: fresh messages (a middleware may add to
    # their headers).
    await send({"type": "http.response.start", "status": 204, "headers": list(_ANSWER_HEADERS)})
    await send({"type": "http.response.body", "body": b""})


_ANSWER_HEADERS = [(name.lower().encode(), value.encode()) for name, value in ANSWER_HEADERS]


def receiver_operator(path: str) -> str | None:
    """``operator`` of ``/es2plus/{operator}/gsma/rsp2/es2plus/handleDownloadProgressInfo``."""
    return _one_segment_between(path, _RECEIVER, NOTIFICATION_PATH)


def _esims_operator(path: str) -> str | None:
    """``operator`` of ``/api/v1/{operator}/esims``, else None."""
    return _one_segment_between(path, _API, _ESIMS)


def _one_segment_between(path: str, prefix: str, suffix: str) -> str | None:
    """The non-empty path segment between ``prefix`` and ``suffix`` (what FastAPI's
    ``{operator}`` matches), else None."""
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    segment = path[len(prefix) : -len(suffix)]
    return segment if segment and "/" not in segment else None


def _has_body(scope: Scope) -> bool:
    return any(name in _BODY_HEADERS for name, _ in scope["headers"])
