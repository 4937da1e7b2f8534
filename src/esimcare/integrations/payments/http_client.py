"""HttpPayoutGateway: the client of a generic JSON payout contract that an operator's payout
service implements (a webhook-style adapter; YooKassa has its own, ``yookassa.py``).

    POST {base}/payouts   Idempotency-Key: <key>
    {"amount": {"amount": "350.00", "currency": "EUR"}, "route", "destination", "description",
     "payment_id" (optional: the payment the money came from)}
    -> 201 {"reference", "amount"} for a new payout, 200 with the first payout for a replay
    GET {base}/payouts/{reference} -> 200 {"reference", "amount"}; 404 for an unknown one

A payout this API answers for is paid (it has no pending state), for the amount asked: a
receipt for another amount is refused (``amount-mismatch``) rather than booked. The contract,
for operators who implement it, is in docs/http-contracts.md. With a token every request
carries ``Authorization: Bearer <token>``.

A refused payout is problem+json with a ``code`` (``idempotency-mismatch``, ``invalid-amount``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.http import bearer, json_object, send
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutRoute
from esimcare.integrations.payments.wire import money_from_json
from esimcare.kit.money import Money


class HttpPayoutGateway:
    def __init__(self, base_url: str, client: httpx.Client, token: str = "") -> None:
        self._url = base_url.rstrip("/") + "/payouts"
        self._client = client
        self._auth = bearer(token)

    def check_payout(self, *, reference: str) -> PayoutReceipt:
        url = f"{self._url}/{quote(reference, safe='')}"
        response = send(self._client, "GET", url, auth=self._auth)
        reference, paid = _receipt_fields(json_object(response))
        return PayoutReceipt(reference, paid, replayed=True)

    def payout(
        self,
        *,
        idempotency_key: str,
        amount: Money,
        route: PayoutRoute,
        destination: str,
        description: str,
        payment_id: str | None = None,
    ) -> PayoutReceipt:
        body = {
            "amount": amount.to_json(),
            "route": PayoutRoute(route).value,
            "destination": destination,
            "description": description,
        }
        if payment_id is not None:
            body["payment_id"] = payment_id
        headers = {"Idempotency-Key": idempotency_key}
        response = send(
            self._client, "POST", self._url, json=body, headers=headers, auth=self._auth
        )
        reference, paid = _receipt_fields(json_object(response))
        if paid != amount:
            raise PermanentIntegrationError(
                f"payout {reference} paid {paid}, not {amount}", code="amount-mismatch"
            )
        return PayoutReceipt(reference, paid, replayed=response.status_code == 200)


def _receipt_fields(data: dict[str, Any]) -> tuple[str, Money]:
    reference = data.get("reference")
    try:
        paid = money_from_json(data.get("amount"))
    except ValueError as exc:
        raise TransientIntegrationError(f"unreadable payout amount: {exc}") from exc
    if not isinstance(reference, str) or not reference:
        raise TransientIntegrationError("payout response without a reference")
    return reference, paid
