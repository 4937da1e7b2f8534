"""HttpSmsGateway: the client of a generic JSON SMS contract that an operator's SMS service
implements (a webhook-style adapter; SMSCs are reached over SMPP, ``smpp.py``). The contract is
docs/http-contracts.md.

    POST {base}/messages {"to", "body", "message_key"[, "sender"]} -> 201/200 {"id"}

The provider deduplicates on ``message_key``, so a retried send returns the first id. With a
token every request carries ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import httpx

from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.http import bearer, json_object, send


class HttpSmsGateway:
    def __init__(self, base_url: str, client: httpx.Client, token: str = "") -> None:
        self._url = base_url.rstrip("/") + "/messages"
        self._client = client
        self._auth = bearer(token)

    def send(self, *, to: str, body: str, message_key: str, sender: str | None = None) -> str:
        payload = {"to": to, "body": body, "message_key": message_key}
        if sender:
            payload["sender"] = sender
        response = send(self._client, "POST", self._url, json=payload, auth=self._auth)
        message_id = json_object(response).get("id")
        if not isinstance(message_id, str) or not message_id:
            raise TransientIntegrationError("SMS provider answered without a message id")
        return message_id
