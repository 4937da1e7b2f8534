"""An eSIM's line in a real OsmoHLR: provisioned by the order, removed by the cancellation."""

from __future__ import annotations

from datetime import timedelta

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.steps import NetworkCall, NetworkStep
from esimcare.config import Integrations
from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.db import transaction
from esimcare.esims.ordering import order_esim
from esimcare.integrations.network.interface import SubscriberState
from esimcare.integrations.network.osmo_hlr_ctrl import HlrSubscriber, OsmoHlrCtrlGateway
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import cancel_as_customer
from esimcare.sandbox.smdp_emulator.support import inventory_imsi
from tests.conftest import MakeContext
from tests.osmo_hlr import OsmoHlr
from tests.support import customer


def drain(ctx: Context) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(12):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


def test_an_ordered_esim_lives_in_osmo_hlr_until_its_cancellation_removes_it(
    make_context: MakeContext, osmo_hlr: OsmoHlr
) -> None:
    network = Integrations(network="osmo-hlr", network_ctrl=osmo_hlr.address)
    ctx = make_context(integrations=network)
    hlr = OsmoHlrCtrlGateway(osmo_hlr.ctrl)
    anna = customer(ctx, "mts", "+79160000001")

    esim = order_esim(ctx, anna, "smart", None)
    assert esim.imsi == inventory_imsi(esim.iccid)  # the inventory's IMSI, not a made-up one
    assert hlr.subscriber(imsi=esim.imsi) == HlrSubscriber(
        esim.imsi, esim.msisdn.removeprefix("+"), cs_enabled=True, ps_enabled=True
    )

    cancellation_id, _ = cancel_as_customer(ctx, CustomerKey(anna.operator_id, anna.id), esim.id)
    drain(ctx)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        assert cancellation.status is CancellationStatus.COMPLETED
        reference = cancellation.reference
    assert hlr.subscriber(imsi=esim.imsi) is None

    # The network step run once more (a retry after a lost answer) finds its work done.
    NetworkStep(ctx).call(NetworkCall(esim.imsi, esim.msisdn, f"cancellation-{reference}"))
    assert hlr.subscriber(imsi=esim.imsi) is None


def test_an_ordered_esim_is_provisioned_with_the_inventory_imsi_in_the_registry_too(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    esim = order_esim(ctx, customer(ctx, "mts", "+79160000001"), "smart", None)
    assert esim.imsi == inventory_imsi(esim.iccid)
    assert ctx.network.state(imsi=esim.imsi) is SubscriberState.ACTIVE
