"""The ASGI TLS extension for uvicorn: the verified client certificate in the request scope.

uvicorn (0.54) verifies client certificates (``ssl_cert_reqs``, ``ssl_ca_certs``) but does not
tell the application which one it saw (uvicorn issues #400, #745; the ASGI TLS extension is
not implemented yet). These protocol classes add ``scope["extensions"]["tls"]`` as that
extension specifies (https://asgi.readthedocs.io/en/latest/specs/tls.html): absent on a
plain connection; ``client_cert_chain`` holds the client's certificate as PEM (only the leaf:
Python before 3.13 cannot read the rest of the chain) or is empty when none was presented.
The certificate is read once per connection, after the handshake has verified it.

``esimcare serve --tls-cert`` runs uvicorn with ``http=TlsScopeH11Protocol``; an ASGI
server that implements the extension itself needs none of this.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The extension's fields for one connection; None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    # Only a certificate the handshake verified counts (CERT_NONE never asks for one anyway).
    verified = ssl_object.context.verify_mode != ssl.CERT_NONE
    der = ssl_object.getpeercert(binary_form=True) if verified else None
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    return {
        "server_cert": None,  # Python's ssl module cannot give our own certificate back
        "client_cert_chain": chain,
        "client_cert_name": None,  # read it from the certificate (sender_auth does)
        "client_cert_error": None,  # an unverifiable certificate never completes the handshake
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def with_tls_extension(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def app_with_tls(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": extension}
        await app(scope, receive, send)

    return app_with_tls


class TlsScopeH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the TLS extension in every request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport)
        if extension is not None:
            wrapped = with_tls_extension(cast(ASGIApp, self.app), extension)
            self.app = cast(Any, wrapped)
