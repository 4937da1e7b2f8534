"""Request body size limit, enforced before any parsing (security.md: size limits on bodies)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PROBLEM = {
    "type": "https://esimcare.dev/problems/payload-too-large",
    "title": "The request body is too large",
    "status": 413,
}


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        """``larger`` maps a path prefix to its own limit (a file upload's form)."""
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    def limit_for(self, path: str) -> int:
        return next(
            (limit for prefix, limit in self.larger.items() if path.startswith(prefix)),
            self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _reject(send, max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await _reject(send, max_bytes)


class _TooLargeError(Exception):
    pass


async def _reject(send: Send, max_bytes: int) -> None:
    body = json.dumps({**_PROBLEM, "detail": f"at most {max_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
