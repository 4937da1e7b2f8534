"""The payout ledger's HTTP face: the payout API of ``http_client`` over a ``PayoutLedger``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from esimcare.integrations.payments.interface import PayoutRoute
from esimcare.integrations.payments.wire import money_from_json
from esimcare.sandbox.http_support import (
    BadRequestError,
    error_handlers,
    json_body,
    text_field,
)
from esimcare.sandbox.payout_ledger import PayoutLedger

_STATUSES = {"idempotency-mismatch": 422, "not-found": 404}


def create_app(ledger: PayoutLedger) -> Starlette:
    async def create_payout(request: Request) -> JSONResponse:
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            raise BadRequestError("the Idempotency-Key header is required")
        data = await json_body(request)
        try:
            amount = money_from_json(data.get("amount"))
            route = PayoutRoute(text_field(data, "route"))
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc
        destination, description = text_field(data, "destination"), text_field(data, "description")
        receipt = await run_in_threadpool(
            lambda: ledger.payout(
                idempotency_key=key,
                amount=amount,
                route=route,
                destination=destination,
                description=description,
            )
        )
        body = {"reference": receipt.reference, "amount": receipt.amount.to_json()}
        return JSONResponse(body, status_code=200 if receipt.replayed else 201)

    async def get_payout(request: Request) -> JSONResponse:
        reference = request.path_params["reference"]
        receipt = await run_in_threadpool(lambda: ledger.check_payout(reference=reference))
        return JSONResponse({"reference": receipt.reference, "amount": receipt.amount.to_json()})

    routes = [
        Route("/payouts", create_payout, methods=["POST"]),
        Route("/payouts/{reference}", get_payout, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=error_handlers(_STATUSES))
