"""An order interrupted after DownloadOrder (a crash leaves exactly this state) is found by the
reconciliation job, failed, and its profile put back in stock: nothing stays allocated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import EsimOrder, OrderStatus
from esimcare.esims.order_reconcile import ORDER_DEADLINE, OrderAbandonedError
from esimcare.esims.ordering import (
    Ordered,
    PreparedOrder,
    order_esim,
    prepare_order,
    record_order,
    remember_allocation,
)
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from tests.support import customer


def emulator(ctx: Context) -> SmdpEmulator:
    gateway = ctx.smdp_for("mts")
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def interrupted_order(ctx: Context) -> tuple[int, str]:
    """Prepare and DownloadOrder, then stop, as a process killed before ConfirmOrder would."""
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        prepared = prepare_order(session, ctx, anna, "travel", None)
    downloaded = emulator(ctx).download_order(profile_type=prepared.profile_type)
    iccid = downloaded.data["iccid"]
    remember_allocation(ctx, prepared, iccid)
    return prepared.order_id, iccid


def test_an_interrupted_order_is_failed_and_its_profile_returned_to_stock(demo: Context) -> None:
    order_id, iccid = interrupted_order(demo)
    assert emulator(demo).profile(iccid).state is SmdpProfileState.ALLOCATED  # type: ignore[union-attr]
    build_worker(demo).run_until_idle()
    with transaction(demo.sessions) as session:
        assert session.get(EsimOrder, order_id).status is OrderStatus.PENDING  # type: ignore[union-attr]
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(ORDER_DEADLINE + timedelta(seconds=1))
    build_worker(demo).run_until_idle()
    with transaction(demo.sessions) as session:
        order = session.get(EsimOrder, order_id)
        assert order is not None
        assert order.status is OrderStatus.FAILED
        assert order.cleanup == "cancelled"
    assert emulator(demo).profile(iccid).state is SmdpProfileState.AVAILABLE  # type: ignore[union-attr]


def test_a_late_answer_for_an_abandoned_order_creates_no_esim(demo: Context) -> None:
    order_id, iccid = interrupted_order(demo)
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(ORDER_DEADLINE + timedelta(seconds=1))
    build_worker(demo).run_until_idle()
    with transaction(demo.sessions) as session:
        order = session.get(EsimOrder, order_id)
        assert order is not None
        prepared = PreparedOrder(
            order.id,
            "mts",
            order.customer_id,
            "mts-travel",
            None,
            order.matching_id,
            order.msisdn,
            order.imsi or "",
        )
    with pytest.raises(OrderAbandonedError), transaction(demo.sessions) as session:
        record_order(session, demo, prepared, Ordered(iccid, order.matching_id, "LPA:1$x$y"))


def test_a_completed_order_is_left_alone_by_the_reconciliation(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")
    esim = order_esim(demo, anna, "travel", None)
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(ORDER_DEADLINE + timedelta(seconds=1))
    build_worker(demo).run_until_idle()
    assert emulator(demo).profile(esim.iccid).state is SmdpProfileState.RELEASED  # type: ignore[union-attr]
