"""A TEST DOUBLE of YooKassa's API v3: a loopback HTTP server for the official SDK to talk to.

Not YooKassa, and not part of the product: it implements only the documented subset esimcare
uses (https://yookassa.ru/developers/api), so the real adapter and the real SDK can be tested
without leaving 127.0.0.1:

- ``POST /v3/payments`` (to seed payments a refund can go back against). A simplification: the
  payment is ``succeeded`` at once, as one made with a saved card and ``capture: true`` would be.
- ``POST /v3/refunds`` with ``Idempotence-Key`` semantics: the same key and body answer the first
  refund again, the same key with another body is 400; at most the payment's amount is refunded.
- ``GET /v3/refunds/{id}``.
- Basic authentication with the shop id and secret key (401 ``invalid_credentials`` otherwise);
  errors as YooKassa documents them: ``{"type": "error", "id", "code", "description",
  "parameter"}`` with 400 ``invalid_request``, 401, 404 ``not_found``, 429, 500.
- ``hold_refunds``: new refunds stay ``pending`` until ``settle`` makes them ``succeeded`` or
  ``canceled``; ``fail_next`` answers the next requests with an error, before or after the work.
- ``on_refund_post``: called with each refund's Idempotence-Key as it arrives, before any work,
  so a test can look at what the caller had stored by then.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from yookassa import Configuration

SHOP_ID = "123456"
SECRET_KEY = "test_secret_key_never_real"

_ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_credentials",
    404: "not_found",
    429: "too_many_requests",
    500: "internal_server_error",
}


class DoubleError(Exception):
    def __init__(self, status: int, description: str, parameter: str | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameter = status, description, parameter

    def body(self) -> dict[str, Any]:
        body = {"type": "error", "id": str(uuid.uuid4()), "code": _ERROR_CODES[self.status]}
        body["description"] = self.description
        if self.parameter:
            body["parameter"] = self.parameter
        return body


@dataclass
class Fault:
    status: int
    after_work: bool  # True: the work is done, only the answer is lost


@dataclass
class YooKassaState:
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Idempotence-Key -> (path, body, status, answer)
    keys: dict[str, tuple[str, Any, int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hold_refunds: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refunded_of(self, payment_id: str) -> Decimal:
        return sum(
            (
                Decimal(r["amount"]["value"])
                for r in self.refunds.values()
                if r["payment_id"] == payment_id and r["status"] != "canceled"
            ),
            Decimal(0),
        )


class YooKassaDouble(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = YooKassaState()
        self.on_refund_post: Callable[[str | None], None] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v3"

    def fail_next(self, status: int, n: int = 1, *, after_work: bool = False) -> None:
        self.state.faults.extend(Fault(status, after_work) for _ in range(n))

    def settle(self, refund_id: str, status: str = "succeeded") -> None:
        with self.state.lock:
            self.state.refunds[refund_id]["status"] = status

    def refunds(self) -> list[dict[str, Any]]:
        """Every refund, in the order they were made."""
        with self.state.lock:
            return [dict(refund) for refund in self.state.refunds.values()]

    def refund_posts(self) -> list[str | None]:
        """The Idempotence-Key of every POST /v3/refunds received, retries included."""
        return [key for method, path, key in self.state.requests if path == "/v3/refunds"]

    def pay(self, amount: str, key: str) -> str:
        """Seed a payment over HTTP (``POST /v3/payments``), as a shop's checkout makes it;
        returns its id."""
        answer = requests.post(
            f"{self.api_url}/payments",
            json={
                "amount": {"value": amount, "currency": "RUB"},
                "capture": True,
                "payment_method_id": "saved-card-4242",
                "description": "top-up",
            },
            auth=(SHOP_ID, SECRET_KEY),
            headers={"Idempotence-Key": key},
            timeout=5,
        )
        answer.raise_for_status()
        payment: dict[str, Any] = answer.json()
        assert payment["status"] == "succeeded", payment
        return str(payment["id"])


@contextmanager
def running_double() -> Iterator[YooKassaDouble]:
    """The double serving on a free loopback port; afterwards the SDK's process-wide settings
    are cleared, so no credentials or URL stay behind for the next test."""
    server = YooKassaDouble()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        Configuration.configure(None, None)


class _Handler(BaseHTTPRequestHandler):
    server: YooKassaDouble

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the suite treats stray output as noise."""

    def do_GET(self) -> None:
        self._serve(lambda state, body: _get_refund(state, self.path))

    def do_POST(self) -> None:
        routes = {"/v3/payments": _create_payment, "/v3/refunds": _create_refund}
        handler = routes.get(self.path)
        if handler is None:
            self._answer(404, DoubleError(404, "no such method").body())
            return
        key = self.headers.get("Idempotence-Key")
        if self.path == "/v3/refunds" and self.server.on_refund_post is not None:
            self.server.on_refund_post(key)
        self._serve(lambda state, body: _idempotent(state, self.path, key, body, handler))

    def _serve(self, work: Any) -> None:
        state = self.server.state
        body = self._body()
        with state.lock:
            state.requests.append((self.command, self.path, self.headers.get("Idempotence-Key")))
            fault = state.faults.pop(0) if state.faults else None
            try:
                self._authenticate()
                if fault and not fault.after_work:
                    raise DoubleError(fault.status, "injected failure")
                status, answer = work(state, body)
                if fault:
                    raise DoubleError(fault.status, "injected failure after the work was done")
            except DoubleError as error:
                status, answer = error.status, error.body()
        self._answer(status, answer)

    def _authenticate(self) -> None:
        expected = base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            raise DoubleError(401, "Basic authentication failed: check shop id and secret key")

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _idempotent(
    state: YooKassaState, path: str, key: str | None, body: Any, handler: Any
) -> tuple[int, dict[str, Any]]:
    if not key:
        raise DoubleError(400, "Idempotence-Key header is required", "Idempotence-Key")
    if key in state.keys:
        first_path, first_body, status, answer = state.keys[key]
        if (first_path, first_body) != (path, body):
            raise DoubleError(400, "Idempotence key duplicated with other data", "Idempotence-Key")
        return status, _current(state, answer)
    status, answer = handler(state, body)
    state.keys[key] = (path, body, status, answer)
    return status, answer


def _current(state: YooKassaState, answer: dict[str, Any]) -> dict[str, Any]:
    """A replay answers the object as it is now (a pending refund may have succeeded since)."""
    return dict(state.refunds.get(answer.get("id", ""), answer))


def _create_payment(state: YooKassaState, body: Any) -> tuple[int, dict[str, Any]]:
    value, currency = _amount(body)
    payment = {
        "id": str(uuid.uuid4()),
        "status": "succeeded",
        "paid": True,
        "amount": {"value": f"{value:.2f}", "currency": currency},
        "created_at": _now(),
        "test": True,
        "refundable": True,
    }
    state.payments[payment["id"]] = payment
    return 200, dict(payment)


def _create_refund(state: YooKassaState, body: Any) -> tuple[int, dict[str, Any]]:
    value, currency = _amount(body)
    payment = state.payments.get(str(body.get("payment_id")))
    if payment is None:
        raise DoubleError(400, "Payment doesn't exist or access denied", "payment_id")
    if currency != payment["amount"]["currency"]:
        raise DoubleError(400, "Refund currency differs from the payment's", "amount.currency")
    if state.refunded_of(payment["id"]) + value > Decimal(payment["amount"]["value"]):
        raise DoubleError(400, "Refund amount exceeds what is left of the payment", "amount")
    refund = {
        "id": str(uuid.uuid4()),
        "payment_id": payment["id"],
        "status": "pending" if state.hold_refunds else "succeeded",
        "amount": {"value": f"{value:.2f}", "currency": currency},
        "created_at": _now(),
        "description": body.get("description"),
    }
    state.refunds[refund["id"]] = refund
    return 200, dict(refund)


def _get_refund(state: YooKassaState, path: str) -> tuple[int, dict[str, Any]]:
    refund_id = path.removeprefix("/v3/refunds/")
    refund = state.refunds.get(refund_id) if path.startswith("/v3/refunds/") else None
    if refund is None:
        raise DoubleError(404, "Refund doesn't exist or access denied")
    return 200, dict(refund)


def _amount(body: Any) -> tuple[Decimal, str]:
    amount = body.get("amount") if isinstance(body, dict) else None
    if not isinstance(amount, dict):
        raise DoubleError(400, "Amount is required", "amount")
    try:
        value = Decimal(str(amount.get("value")))
    except InvalidOperation as exc:
        raise DoubleError(400, "Amount value is not a number", "amount.value") from exc
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise DoubleError(400, "Amount value must be positive, to the kopeck", "amount.value")
    return value, str(amount.get("currency"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
