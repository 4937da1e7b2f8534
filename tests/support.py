"""Helpers several test modules share: walking a demo customer through a cancellation."""

from __future__ import annotations

from typing import Any

from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.customers.service import find_by_login
from esimcare.db import transaction
from esimcare.esims.service import list_esims
from esimcare.seeding import cancel_as_customer


def customer(ctx: Context, operator_id: str, login: str) -> Customer:
    with transaction(ctx.sessions) as session:
        found = find_by_login(session, operator_id, login)
        assert found is not None
        return found


def request_and_verify_mts(ctx: Context, esim_index: int = 0) -> tuple[int, dict[str, Any]]:
    """Anna cancels an mts eSIM with the SMS code; returns the cancellation id and its quote."""
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, "mts", anna.id)[esim_index].esim.id
    cancellation_id, quote = cancel_as_customer(ctx, anna.id, esim_id)
    return cancellation_id, quote.to_json()
