"""Ordering a new eSIM through the operator's SM-DP+ (SGP.22 v2.2 5.3.1 and 5.3.2).

Three phases, like a cancellation step, so no SM-DP+ call runs inside a database transaction:
*prepare* commits an ``esim_orders`` row (plan, EID, our own MatchingID, reserved numbers);
*call* sends DownloadOrder (the plan's profile type, the EID if given) and ConfirmOrder
(releaseFlag true, our MatchingID) and provisions the line in the network with the IMSI the
profile inventory pairs with the allocated ICCID (the made-up one of ``imsi_for_order`` only
when the inventory names none); *record* creates the eSIM and marks
the order completed in one transaction (the caller stores its idempotent answer in it too).

An order that fails after DownloadOrder is undone with CancelOrder(Available), so no profile
stays allocated to nobody; the order row keeps what failed and how the clean-up went.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from esimcare.audit.service import record as audit
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import InvalidInputError
from esimcare.esims.models import Esim, EsimOrder, OrderStatus, Plan
from esimcare.esims.number_pool import (
    NumbersBusyError,
    imsi_for_order,
    lock_number_pool,
    next_msisdn,
)
from esimcare.esims.order_errors import OrderFailure, SmdpOrderFailedError, failure_for
from esimcare.esims.order_limits import enforce_order_limits
from esimcare.esims.order_reconcile import OrderAbandonedError, reconcile_later
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.esims.systems import OrderingSystems
from esimcare.integrations.errors import IntegrationError
from esimcare.integrations.smdp.interface import FinalProfileStatus, SmdpGateway
from esimcare.kit.ids import Eid, InvalidIdentifierError

_MATCHING_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class PreparedOrder:
    order_id: int
    operator_id: str
    customer_id: int
    profile_type: str
    eid: str | None
    matching_id: str
    msisdn: str
    imsi: str


@dataclass(frozen=True)
class Ordered:
    iccid: str
    matching_id: str
    activation_code: str
    imsi: str | None = None  # the inventory's, when it differs from the order's placeholder


Finish = Callable[[Session, Esim], None]


def plans_of(session: Session, operator_id: str) -> list[Plan]:
    return list(
        session.scalars(select(Plan).where(Plan.operator_id == operator_id).order_by(Plan.id))
    )


def order_esim(
    ctx: OrderingSystems,
    customer: Customer,
    plan_code: str,
    eid: str | None,
    finish: Finish | None = None,
) -> Esim:
    """Prepare, call, record; raises a DomainError (after recording why) when it fails."""
    with transaction(ctx.sessions) as session:
        prepared = prepare_order(session, ctx, customer, plan_code, eid)
    ordered = call_smdp(ctx, prepared)
    with transaction(ctx.sessions) as session:
        esim = record_order(session, ctx, prepared, ordered)
        if finish is not None:
            finish(session, esim)
    return esim


def prepare_order(
    session: Session, ctx: OrderingSystems, customer: Customer, plan_code: str, eid: str | None
) -> PreparedOrder:
    plan = session.scalar(
        select(Plan).where(Plan.operator_id == customer.operator_id, Plan.code == plan_code)
    )
    if plan is None:
        raise InvalidInputError(f"no plan {plan_code!r}", field="plan")
    # In the transaction that inserts the order, so parallel orders cannot pass the limits.
    enforce_order_limits(session, ctx.policy(customer.operator_id), customer.id, ctx.clock.now())
    order = _reserve_number(session, ctx, customer, plan, _eid(eid))
    reconcile_later(session, order, ctx.clock.now())
    order.imsi = imsi_for_order(order.id)
    return PreparedOrder(
        order.id, order.operator_id, customer.id, plan.profile_type, order.eid,
        order.matching_id, order.msisdn, order.imsi,
    )  # fmt: skip


NUMBER_ATTEMPTS = 5


def _reserve_number(
    session: Session, ctx: OrderingSystems, customer: Customer, plan: Plan, eid: str | None
) -> EsimOrder:
    """Insert the pending order with the next free number. On PostgreSQL a concurrent order may
    take the same number first; the unique constraint says so, and the next number is tried."""
    prefixes = ctx.policy(customer.operator_id).msisdn_prefixes
    lock_number_pool(session, customer.operator_id)
    for _ in range(NUMBER_ATTEMPTS):
        order = EsimOrder(
            operator_id=customer.operator_id,
            customer_id=customer.id,
            plan_id=plan.id,
            status=OrderStatus.PENDING,
            eid=eid,
            matching_id=new_matching_id(),
            msisdn=next_msisdn(session, customer.operator_id, prefixes),
            created_at=ctx.clock.now(),
        )
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
        except IntegrityError:
            continue
        return order
    raise NumbersBusyError()


def call_smdp(ctx: OrderingSystems, prepared: PreparedOrder) -> Ordered:
    """DownloadOrder + ConfirmOrder + network provisioning, outside any transaction."""
    gateway = ctx.smdp_for(prepared.operator_id)
    try:
        downloaded = gateway.download_order(profile_type=prepared.profile_type, eid=prepared.eid)
    except IntegrationError as error:
        raise _failed(ctx, prepared, failure_for(error), None) from error
    if not downloaded.succeeded:
        raise _failed(ctx, prepared, failure_for(downloaded), None)
    iccid = downloaded.data["iccid"]
    prepared = replace(prepared, imsi=downloaded.data.get("imsi") or prepared.imsi)
    remember_allocation(ctx, prepared, iccid)
    try:
        return _confirm_and_provision(ctx, gateway, prepared, iccid)
    except (IntegrationError, SmdpOrderFailedError) as error:
        failure = error.failure if isinstance(error, SmdpOrderFailedError) else failure_for(error)
        raise _failed(ctx, prepared, failure, iccid) from error


def remember_allocation(ctx: OrderingSystems, prepared: PreparedOrder, iccid: str) -> None:
    """Committed before ConfirmOrder, so a crash from here on leaves a profile that the
    reconciliation job (order_reconcile.py) knows to cancel."""
    with transaction(ctx.sessions) as session:
        order = session.get(EsimOrder, prepared.order_id)
        assert order is not None
        order.iccid, order.imsi = iccid, prepared.imsi


def _confirm_and_provision(
    ctx: OrderingSystems, gateway: SmdpGateway, prepared: PreparedOrder, iccid: str
) -> Ordered:
    confirmed = gateway.confirm_order(
        iccid=iccid, release=True, eid=prepared.eid, matching_id=prepared.matching_id
    )
    if not confirmed.succeeded:
        raise SmdpOrderFailedError(failure_for(confirmed))
    matching_id = confirmed.data.get("matchingId") or prepared.matching_id
    address = confirmed.data.get("smdpAddress") or smdp_address(ctx, prepared.operator_id)
    ctx.network.provision(imsi=prepared.imsi, msisdn=prepared.msisdn)
    return Ordered(iccid, matching_id, f"LPA:1${address}${matching_id}", prepared.imsi)


def smdp_address(ctx: OrderingSystems, operator_id: str) -> str:
    """Where the phone downloads from, when ConfirmOrder did not say (it is optional)."""
    link = ctx.policy(operator_id).smdp_link
    return link.smdp_address or urlsplit(link.url or "").hostname or ""


def _failed(
    ctx: OrderingSystems, prepared: PreparedOrder, failure: OrderFailure, iccid: str | None
) -> SmdpOrderFailedError:
    """Record the failure; undo a half-made order at the SM-DP+ first."""
    cleanup = None if iccid is None else _cancel_allocation(ctx, prepared, iccid)
    with transaction(ctx.sessions) as session:
        order = session.get(EsimOrder, prepared.order_id)
        assert order is not None
        order.status, order.iccid = OrderStatus.FAILED, iccid
        order.failure, order.cleanup = failure.describe()[:500], cleanup
        order.finished_at = ctx.clock.now()
    return SmdpOrderFailedError(failure)


def _cancel_allocation(ctx: OrderingSystems, prepared: PreparedOrder, iccid: str) -> str:
    try:
        outcome = ctx.smdp_for(prepared.operator_id).cancel_order(
            iccid=iccid,
            final_status=FinalProfileStatus.AVAILABLE,
            eid=prepared.eid,
            matching_id=prepared.matching_id,
        )
    except IntegrationError as error:
        return f"CancelOrder failed, profile may stay allocated: {error}"[:500]
    if outcome.succeeded:
        return "cancelled"
    return f"CancelOrder refused: {outcome.code}"[:500]


def record_order(
    session: Session, ctx: OrderingSystems, prepared: PreparedOrder, ordered: Ordered
) -> Esim:
    order = session.get(EsimOrder, prepared.order_id, with_for_update=True)
    assert order is not None
    if order.status is not OrderStatus.PENDING:
        # The reconciliation job gave up on this order (and cancelled its profile) first.
        raise OrderAbandonedError()
    now = ctx.clock.now()
    esim = Esim(
        operator_id=prepared.operator_id, customer_id=prepared.customer_id, plan_id=order.plan_id,
        iccid=ordered.iccid, msisdn=prepared.msisdn, imsi=ordered.imsi or prepared.imsi,
        eid=prepared.eid,
        matching_id=ordered.matching_id, activation_code=ordered.activation_code,
        status=EsimStatus.ACTIVE, profile_state=ProfileState.RELEASED, activated_at=now,
        billed_until=now,
    )  # fmt: skip
    session.add(esim)
    session.flush()
    order.status, order.iccid, order.esim_id, order.finished_at = (
        OrderStatus.COMPLETED, ordered.iccid, esim.id, now,
    )  # fmt: skip
    audit(session, operator_id=prepared.operator_id, actor=f"customer:{prepared.customer_id}",
          action="esim.ordered", subject=f"esim:{esim.id}", at=now,
          data={"order": order.id, "iccid": ordered.iccid})  # fmt: skip
    return esim


def new_matching_id() -> str:
    """Our own MatchingID (SGP.22 v2.2 4.1): 4 groups of 5, no look-alike characters."""
    groups = ("".join(secrets.choice(_MATCHING_ID_ALPHABET) for _ in range(5)) for _ in "1234")
    return "-".join(groups)


def _eid(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return Eid.parse(raw).value
    except InvalidIdentifierError as error:
        raise InvalidInputError(f"EID: {error}", field="eid") from None
