"""The baseline: a bare Starlette app answering the same paths (the list and the health check)
with a fixed JSON body of the same shape and size as esimcare's answer, served the same way.
Whatever esimcare costs on top (authentication, the queries, rendering) is the difference."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# read_path.py saves a real answer there, so both servers send equally many bytes.
BODY_FILE = "BARE_APP_BODY"


def create_app() -> Starlette:
    path = os.environ.get(BODY_FILE)
    body: Any = json.loads(Path(path).read_text()) if path else {"items": []}

    async def esims(request: Request) -> Response:
        return JSONResponse(body)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/api/v1/{operator}/esims", esims), Route("/api/v1/health", health)]
    )
