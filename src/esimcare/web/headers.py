"""Headers every machine answer carries, whichever handler (or middleware) wrote it.

API answers hold personal data and tokens, so no cache keeps them (``no-store``), and no
browser guesses another content type than the one declared (``nosniff``). A handler that set
its own ``Cache-Control`` (the QR codes: ``private, no-store``) keeps it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MACHINE_PREFIXES = ("/api/", "/es2plus/", "/metrics")
MACHINE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in MACHINE_HEADERS.items()]


class MachineHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(MACHINE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw (lower-case) header pairs, as ASGI carries them: on every machine answer.
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in _RAW_HEADERS if pair[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
