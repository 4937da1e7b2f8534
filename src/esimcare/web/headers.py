"""Headers every machine answer carries, whichever handler (or middleware) wrote it.

API answers hold personal data and tokens, so no cache keeps them (``no-store``), and no
browser guesses another content type than the one declared (``nosniff``). A handler that set
its own ``Cache-Control`` (the QR codes: ``private, no-store``) keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MACHINE_PREFIXES = ("/api/", "/es2plus/", "/metrics")
MACHINE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class MachineHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(MACHINE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in MACHINE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
