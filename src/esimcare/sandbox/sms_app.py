"""The SMS outbox's HTTP face: the provider API of ``http_client`` over an ``SmsOutbox``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from esimcare.sandbox.http_support import error_handlers, json_body, text_field
from esimcare.sandbox.sms_outbox import SmsOutbox


def create_app(outbox: SmsOutbox) -> Starlette:
    async def create_message(request: Request) -> JSONResponse:
        data = await json_body(request)
        to, body = text_field(data, "to"), text_field(data, "body")
        message_key = text_field(data, "message_key")
        message_id = await run_in_threadpool(
            lambda: outbox.send(to=to, body=body, message_key=message_key)
        )
        return JSONResponse({"id": message_id}, status_code=201)

    routes = [Route("/messages", create_message, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers=error_handlers({}))
