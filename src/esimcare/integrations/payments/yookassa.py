"""YooKassaRefunds: card refunds through YooKassa's API, with its official SDK (``yookassa``).

    POST {api}/refunds        Idempotence-Key: <key>
    {"payment_id": "<36 chars>", "amount": {"value": "350.00", "currency": "RUB"}, "description"}
    GET  {api}/refunds/{id}
    -> {"id", "payment_id", "status": "pending" | "succeeded" | "canceled", "amount", ...}

A refund goes back against the payment the money came from (``payment_id``); it may stay
``pending`` for a while and is then followed with ``check_payout`` until it is final. YooKassa
answers a repeated Idempotence-Key with the first refund, for 24 hours; the same key with another
body is refused (400). Errors (https://yookassa.ru/developers/using-api/response-handling):
400 invalid_request, 401 invalid_credentials, 403 forbidden, 404 not_found are definite; 429 and
500 (and 202, "still processing") mean "repeat later with the same key".

The SDK keeps its settings process-wide (``Configuration``), so a process talks to one shop; the
adapter configures it once, without a logger, so the SDK never logs the Authorization header.
The SDK sends no request time-out of its own: ours (``_TimedApiClient``) bounds every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from yookassa import Configuration, Refund
from yookassa.client import ApiClient
from yookassa.domain.exceptions import (
    ApiError,
    InternalServerError,
    ResponseProcessingError,
    TooManyRequestsError,
)

from esimcare.integrations.errors import (
    IntegrationError,
    PermanentIntegrationError,
    TransientIntegrationError,
)
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutRoute, PayoutStatus
from esimcare.integrations.payments.wire import money_from_json
from esimcare.kit.money import Money

PRODUCTION_API_URL = "https://api.yookassa.ru/v3"
# (connect, read) seconds: a hung provider must not hold a worker, and its job lease, forever.
REQUEST_TIMEOUT_S = (5.0, 30.0)
# "Repeat later with the same Idempotence-Key" answers.
_RETRYABLE = (TooManyRequestsError, InternalServerError, ResponseProcessingError)


@dataclass(frozen=True)
class YooKassaShop:
    """A shop's API credentials: the shop id and its secret key (never printed or logged)."""

    account_id: str
    secret_key: str = field(repr=False)
    api_url: str = PRODUCTION_API_URL


class YooKassaRefunds:
    """Implements ``PayoutGateway`` for the card route: a payout is a YooKassa refund."""

    def __init__(self, shop: YooKassaShop) -> None:
        if not shop.account_id or not shop.secret_key:
            raise ValueError("a YooKassa shop id and secret key are required")
        Configuration.configure(shop.account_id, shop.secret_key, api_url=shop.api_url.rstrip("/"))

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
        # ``destination`` ("card **** 4242") is for people: YooKassa refunds to the payment's card.
        if PayoutRoute(route) is not PayoutRoute.CARD:
            raise PermanentIntegrationError(
                f"YooKassa refunds go back to the card paid with, not to a {route}",
                code="route-not-supported",
            )
        if not payment_id:
            raise PermanentIntegrationError(
                "a YooKassa refund needs the payment the money came from", code="no-payment-id"
            )
        params = {
            "payment_id": payment_id,
            "amount": {"value": amount.to_json()["amount"], "currency": amount.currency},
            "description": description[:255],
        }
        refund = _call(lambda: _Refund.create(params, idempotency_key))
        receipt = _receipt(refund)
        if receipt.amount != amount:
            raise PermanentIntegrationError(
                f"YooKassa refunded {receipt.amount}, not {amount}", code="amount-mismatch"
            )
        return receipt

    def check_payout(self, *, reference: str) -> PayoutReceipt:
        return _receipt(_call(lambda: _Refund.find_one(reference)))


class _TimedSession(requests.Session):
    # The SDK calls ``request`` without a timeout; the same signature with a default for it.
    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return super().request(method, url, *args, **kwargs)


class _TimedApiClient(ApiClient):  # type: ignore[misc]
    """The SDK's client with a request time-out, keeping the SDK's own retry set-up."""

    def get_session(self) -> requests.Session:
        timed = _TimedSession()
        for prefix, adapter in super().get_session().adapters.items():
            timed.mount(prefix, adapter)
        return timed


class _Refund(Refund):  # type: ignore[misc]
    def __init__(self) -> None:
        self.client = _TimedApiClient()


def _call(request: Callable[[], Any]) -> Any:
    try:
        return request()
    except _RETRYABLE as exc:
        raise TransientIntegrationError(f"YooKassa {_describe(exc)}") from exc
    except ApiError as exc:
        raise _definite_or_unclear(exc) from exc
    except requests.RequestException as exc:  # an unreadable answer (a proxy's HTML page)
        raise TransientIntegrationError(f"YooKassa: {type(exc).__name__}") from exc
    except AttributeError as exc:
        # The SDK turns a connection error into ``None.status_code`` (client.py reads
        # ``e.response`` of a RequestException that has none): nothing definite was said.
        if isinstance(exc.__context__, requests.RequestException):
            cause = type(exc.__context__).__name__
            raise TransientIntegrationError(f"YooKassa unreachable: {cause}") from exc
        raise
    except (ValueError, TypeError) as exc:  # the SDK's own request validation
        raise PermanentIntegrationError(f"YooKassa request refused: {exc}", code="invalid") from exc


def _definite_or_unclear(exc: ApiError) -> IntegrationError:
    if type(exc) is ApiError:
        # A status the SDK has no class for (a proxy's 502/503): not an answer from YooKassa.
        return TransientIntegrationError(f"YooKassa {_describe(exc)}")
    content = exc.content or {}
    return PermanentIntegrationError(
        f"YooKassa {_describe(exc)}", code=f"yookassa-{content.get('code', exc.HTTP_CODE)}"
    )


def _describe(exc: ApiError) -> str:
    content = exc.content or {}
    parts = [str(exc.HTTP_CODE or ""), content.get("code"), content.get("description")]
    return " ".join(str(part) for part in parts if part)


def _receipt(refund: Any) -> PayoutReceipt:
    try:
        status = PayoutStatus(refund.status)
        value, currency = refund.amount.value, refund.amount.currency
        amount = money_from_json({"amount": str(Decimal(value)), "currency": currency})
    except (AttributeError, ValueError, TypeError) as exc:
        raise TransientIntegrationError(f"unreadable YooKassa refund: {exc}") from exc
    if not isinstance(refund.id, str) or not refund.id:
        raise TransientIntegrationError("YooKassa refund without an id")
    return PayoutReceipt(refund.id, amount, replayed=False, status=status)
