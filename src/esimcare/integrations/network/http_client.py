"""HttpNetworkGateway: the client of a generic JSON provisioning contract that an operator's
own provisioning system implements (a webhook-style adapter); the contract, with its status
codes and idempotency rules, is docs/http-contracts.md. No HSS speaks it by itself.

The API (served by ``emulator_app`` for tests and stand-alone use)::

    POST {base}/subscribers/{imsi}/provision {"msisdn"}          -> {"state"}
    POST {base}/subscribers/{imsi}/bar     {"msisdn", "request_id"} -> {"state"}
    POST {base}/subscribers/{imsi}/remove  {"msisdn", "request_id"} -> {"state"}
    GET  {base}/subscribers/{imsi}                                   -> {"state"}

Errors are problem+json with a ``code`` (``unknown-subscriber``, ``not-barred``,
``imsi-in-use``, ...). With a token every request carries ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.http import bearer, json_object, send
from esimcare.integrations.network.interface import SubscriberState


class HttpNetworkGateway:
    def __init__(self, base_url: str, client: httpx.Client, token: str = "") -> None:
        self._base = base_url.rstrip("/")
        self._client = client
        self._auth = bearer(token)

    def provision(self, *, imsi: str, msisdn: str) -> SubscriberState:
        body = {"msisdn": msisdn}
        url = f"{self._url(imsi)}/provision"
        return _state(send(self._client, "POST", url, json=body, auth=self._auth))

    def bar(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        return self._post(imsi, "bar", msisdn=msisdn, request_id=request_id)

    def remove(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        return self._post(imsi, "remove", msisdn=msisdn, request_id=request_id)

    def state(self, *, imsi: str) -> SubscriberState:
        return _state(send(self._client, "GET", self._url(imsi), auth=self._auth))

    def _post(self, imsi: str, action: str, *, msisdn: str, request_id: str) -> SubscriberState:
        body = {"msisdn": msisdn, "request_id": request_id}
        url = f"{self._url(imsi)}/{action}"
        return _state(send(self._client, "POST", url, json=body, auth=self._auth))

    def _url(self, imsi: str) -> str:
        return f"{self._base}/subscribers/{quote(imsi, safe='')}"


def _state(response: httpx.Response) -> SubscriberState:
    value = json_object(response).get("state")
    try:
        return SubscriberState(str(value))
    except ValueError as exc:
        raise TransientIntegrationError(f"unexpected subscriber state {value!r}") from exc
