"""The network registry's HTTP face: the provisioning API of ``http_client`` over a registry.

It lets the real client be contract-tested across a socket, and lets operators run the
emulator as its own service (``uvicorn`` with :func:`create_app`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from esimcare.sandbox.http_support import error_handlers, json_body, text_field
from esimcare.sandbox.network_registry import NetworkRegistry

_STATUSES = {
    "unknown-subscriber": 404,
    "not-barred": 409,
    "request-id-reused": 409,
    "imsi-in-use": 409,
}


def create_app(registry: NetworkRegistry) -> Starlette:
    async def get_state(request: Request) -> JSONResponse:
        imsi = request.path_params["imsi"]
        state = await run_in_threadpool(lambda: registry.state(imsi=imsi))
        return JSONResponse({"imsi": imsi, "state": state.value})

    async def provision(request: Request) -> JSONResponse:
        imsi = request.path_params["imsi"]
        msisdn = text_field(await json_body(request), "msisdn")
        state = await run_in_threadpool(lambda: registry.provision(imsi=imsi, msisdn=msisdn))
        return JSONResponse({"imsi": imsi, "state": state.value})

    def action(name: str) -> Callable[[Request], Awaitable[JSONResponse]]:
        operation = registry.bar if name == "bar" else registry.remove

        async def endpoint(request: Request) -> JSONResponse:
            imsi = request.path_params["imsi"]
            data = await json_body(request)
            msisdn, request_id = text_field(data, "msisdn"), text_field(data, "request_id")
            state = await run_in_threadpool(
                lambda: operation(imsi=imsi, msisdn=msisdn, request_id=request_id)
            )
            return JSONResponse({"imsi": imsi, "state": state.value})

        return endpoint

    routes = [
        Route("/subscribers/{imsi}", get_state, methods=["GET"]),
        Route("/subscribers/{imsi}/provision", provision, methods=["POST"]),
        Route("/subscribers/{imsi}/bar", action("bar"), methods=["POST"]),
        Route("/subscribers/{imsi}/remove", action("remove"), methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers=error_handlers(_STATUSES))
