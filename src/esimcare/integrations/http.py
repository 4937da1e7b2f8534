"""The one outbound HTTP seam: a configured client and the mapping of failures to our errors.

Every real HTTP integration goes through :func:`send`, so "is this worth retrying?" is decided
in one place: transport errors, time-outs, 5xx, 408/425/429 are transient; any other 4xx is a
definite refusal whose machine-readable ``code`` comes from the problem+json body.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Generator
from typing import Any

import httpx

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError

USER_AGENT = "esimcare/0.1"
_RETRYABLE_4XX = frozenset({408, 425, 429})
_log = logging.getLogger("esimcare.integrations.http")


def make_http_client(ca_file: str = "") -> httpx.Client:
    """The shared client: bounded time-outs so a hung provider cannot stall a worker.

    ``retries=1`` only repeats failed *connection attempts* (nothing was sent), which is safe
    even for non-idempotent calls; every other retry is the job queue's decision. ``ca_file``
    trusts a private CA (a provider inside the operator's network) instead of the system's.
    """
    verify: ssl.SSLContext | bool = True
    if ca_file:
        verify = ssl.create_default_context(cafile=ca_file)
    return httpx.Client(
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        transport=httpx.HTTPTransport(retries=1, verify=verify),
        event_hooks={"response": [_log_response]},
    )


class BearerToken(httpx.Auth):
    """``Authorization: Bearer`` for one provider on the shared client; never printed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"


def bearer(token: str) -> BearerToken | None:
    """The provider's credential, or None when it needs none (a private network)."""
    return BearerToken(token) if token else None


def _log_response(response: httpx.Response) -> None:
    # Path only at debug level: URLs carry subscriber identifiers.
    request = response.request
    _log.debug("%s %s -> %s", request.method, request.url.path, response.status_code)


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Perform one request; return the 2xx response or raise a classified integration error."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise TransientIntegrationError(f"{method} {url}: {type(exc).__name__}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return response
    if status >= 500 or status in _RETRYABLE_4XX:
        raise TransientIntegrationError(f"{method} {url}: HTTP {status}")
    code, detail = _problem(response)
    raise PermanentIntegrationError(f"{method} {url}: HTTP {status} {detail}".strip(), code=code)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx response; a garbled one is transient (a proxy, a deploy)."""
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientIntegrationError(f"unreadable response from {response.url}") from exc
    if not isinstance(data, dict):
        raise TransientIntegrationError(f"unexpected response from {response.url}")
    return data


def _problem(response: httpx.Response) -> tuple[str, str]:
    fallback = f"http-{response.status_code}"
    try:
        data = response.json()
    except ValueError:
        return fallback, ""
    if not isinstance(data, dict):
        return fallback, ""
    code = data.get("code")
    detail = data.get("detail") or data.get("title") or ""
    return (code if isinstance(code, str) and code else fallback), str(detail)
