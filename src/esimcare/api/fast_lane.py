"""The two hottest GETs, answered before FastAPI's routing: liveness and the caller's eSIMs.

FastAPI matches a request against every route in turn and solves an (empty) dependency graph
before the endpoint runs; on a read that costs ~30 µs in all that is most of the time. This
middleware recognises the two paths by their shape and calls the very endpoints the routes
serve (``public.health``, ``esims.list_my_esims``), so both entries give the same answer and
the OpenAPI document is still FastAPI's. Anything else, and any refusal (unknown operator,
missing token: a ``DomainError``), goes down the ordinary stack, which renders the problem
exactly as it always does; so does a GET that carries a body (the size limit applies there).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from esimcare.api.esims import list_my_esims
from esimcare.api.public import health
from esimcare.errors import DomainError

_HEALTH = "/api/v1/health"
_API = "/api/v1/"
_ESIMS = "/esims"
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


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


def _esims_operator(path: str) -> str | None:
    """``operator`` of ``/api/v1/{operator}/esims``, else None."""
    if not (path.startswith(_API) and path.endswith(_ESIMS)):
        return None
    operator = path[len(_API) : -len(_ESIMS)]
    return operator if operator and "/" not in operator else None


def _has_body(scope: Scope) -> bool:
    return any(name in _BODY_HEADERS for name, _ in scope["headers"])
