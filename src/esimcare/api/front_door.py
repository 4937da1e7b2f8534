"""The ES2+ receiver's own door, in front of the whole application.

An SM-DP+ posts notifications as fast as its events happen, and each one crossed eight ASGI
layers before the receiver saw it: FastAPI's and Starlette's entry, the server-error and
telemetry wrappers, FastAPI's own body limit, then ours. The notification path needs only
three of them, and here it gets just those, built from the same classes with the same
settings, in the same order:

* what the server-error layer does for an unexpected exception (logged, answered with the
  machine paths' problem+json 500, raised on to the server), ``_unexpected_as_500``;
* the machine headers on every answer, ``MachineHeadersMiddleware``;
* the body size limit, ``BodySizeLimitMiddleware``;

then ``fast_lane.notification``: the receiver, its 204 or its refusal. Every other request
goes through FastAPI as before. ``tests/integration/api/test_fast_lane.py`` holds the answers
to those of the routed app.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from esimcare.api.fast_lane import notification, receiver_operator
from esimcare.api.problems import problem_for_error
from esimcare.errors import InternalError
from esimcare.web.headers import MachineHeadersMiddleware
from esimcare.web.limits import BodySizeLimitMiddleware

log = structlog.get_logger()


class EsimcareApp(FastAPI):
    """FastAPI, with the notification path answered by ``notification_door`` when set."""

    notification_door: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = self.notification_door
        if (
            door is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and receiver_operator(scope["path"]) is not None
        ):
            scope["app"] = self  # as Starlette's entry sets it: handlers reach app.state
            await door(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _notification_app(scope: Scope, receive: Receive, send: Send) -> None:
    operator = receiver_operator(scope["path"])
    assert operator is not None, "the door is only opened for the receiver's path"
    await notification(operator, scope, receive, send)


def notification_door(max_bytes: int) -> ASGIApp:
    """The layers the notification path keeps, outermost first."""
    limited = BodySizeLimitMiddleware(_notification_app, max_bytes=max_bytes)
    return _UnexpectedAs500(MachineHeadersMiddleware(limited))


class _UnexpectedAs500:
    """Starlette's server-error layer with the application's handler for ``Exception``: the
    bug is logged and raised on to the server, the caller gets the problem+json 500 (unless
    an answer had begun)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            log.exception("request.failed", path=scope["path"])
            if not started:
                request = Request(scope)
                await problem_for_error(request, InternalError())(scope, receive, send)
            raise
