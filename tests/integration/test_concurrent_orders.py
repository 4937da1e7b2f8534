"""Orders placed at the same moment never share a phone number, on either database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from esimcare.context import Context
from esimcare.esims.ordering import order_esim
from esimcare.kit.clock import SystemClock
from tests.support import customer


def test_concurrent_orders_get_distinct_numbers(make_context, db_url: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_context(clock=SystemClock(), database_url=db_url)
    anna = customer(ctx, "mts", "+79160000001")
    with ThreadPoolExecutor(4) as pool:
        esims = list(pool.map(lambda _: order_esim(ctx, anna, "smart", None), range(8)))
    numbers = [esim.msisdn for esim in esims]
    assert len(set(numbers)) == len(numbers)
    iccids = [esim.iccid for esim in esims]
    assert len(set(iccids)) == len(iccids)
