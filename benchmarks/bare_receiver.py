"""The baseline for benchmarks/receiver.py: a bare Starlette endpoint on the receiver's path
that reads the body and answers 204, served the same way (no parsing, no database)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/es2plus/{operator}/gsma/rsp2/es2plus/handleDownloadProgressInfo"


def create_app() -> Starlette:
    async def receive(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    async def probe(request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route(PATH, receive, methods=["POST"]), Route("/", probe)])
