"""Demo data: three operators with deliberately different (illustrative) policies, one customer
each, and eSIMs whose profiles really exist in the built-in SM-DP+ emulator and network registry.
Seeding runs once per database; running it again changes nothing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.billing.final_bill import cycle_start_on_or_before
from esimcare.billing.models import EntryKind, LedgerEntry, UsageRecord
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.customers.passwords import hash_password
from esimcare.db import transaction
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.kit.ids import Eid, Iccid
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.stand_ins import smdp_emulator_of

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - the published demo login
POLICIES = Path(__file__).with_name("demo_policies.toml")


@dataclass(frozen=True)
class DemoEsim:
    serial: str
    msisdn: str
    plan: str
    installed: bool
    cash: int
    bonus: int = 0
    usage: int = 0
    label: str = ""


@dataclass(frozen=True)
class DemoCustomer:
    operator_id: str
    name: str
    phone: str
    email: str
    language: str
    esims: tuple[DemoEsim, ...]
    payout_account: str | None = None


PLANS = {
    "mts": [
        ("smart", {"ru": "Smart", "en": "Smart", "zh": "Smart 套餐"}, 65000, "mts-consumer"),
        ("travel", {"ru": "Путешествия", "en": "Travel", "zh": "旅行套餐"}, 30000, "mts-travel"),
    ],
    "beeline": [
        (
            "unlimited",
            {"ru": "Безлимит", "en": "Unlimited", "zh": "无限套餐"},
            75000,
            "bee-consumer",
        )
    ],
    "megafon": [
        ("basic", {"ru": "Базовый", "en": "Basic", "zh": "基础套餐"}, 40000, "mf-consumer")
    ],
}

CUSTOMERS = (
    DemoCustomer(
        "mts",
        "Anna Ivanova",
        "+79160000001",
        "anna@example.com",
        "ru",
        (
            DemoEsim(
                "8970101000000000001", "+79160000001", "smart", True, 150000, 20000, 4500, "Main"
            ),
            DemoEsim("8970101000000000002", "+79160000002", "travel", False, 50000, 0, 0, "Travel"),
        ),
    ),
    DemoCustomer(
        "beeline",
        "Li Wei",
        "+79030000001",
        "li.wei@example.com",
        "zh",
        (
            DemoEsim(
                "8970199000000000001", "+79030000001", "unlimited", True, 100000, 5000, 0, "主号"
            ),
        ),
    ),
    DemoCustomer(
        "megafon",
        "Viktor Petrov",
        "+79250000001",
        "viktor@example.com",
        "en",
        (DemoEsim("8970102000000000001", "+79250000001", "basic", True, -25000, 0, 0, "Phone"),),
        payout_account="40817810 **** 7301",
    ),
)


def write_demo_operators_file(path: Path) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(POLICIES, path)


def seed_demo(ctx: Context) -> bool:
    """Returns False when the demo data is already there; tops up the emulator's stock."""
    fresh = _seed_rows(ctx)
    stock_demo_inventory(ctx)
    return fresh


def _seed_rows(ctx: Context) -> bool:
    with transaction(ctx.sessions) as session:
        if session.scalar(select(Customer.id).limit(1)) is not None:
            return False
        now = ctx.clock.now()
        for operator_id, plans in PLANS.items():
            for code, names, fee, profile_type in plans:
                session.add(
                    Plan(
                        operator_id=operator_id,
                        code=code,
                        names=names,
                        monthly_fee_minor=fee,
                        currency="RUB",
                        billing_day=1,
                        profile_type=profile_type,
                    )
                )
        session.flush()
        for demo in CUSTOMERS:
            _seed_customer(session, ctx, demo, now)
    return True


def _seed_customer(session: Session, ctx: Context, demo: DemoCustomer, now: datetime) -> None:
    customer = Customer(
        operator_id=demo.operator_id,
        name=demo.name,
        phone=demo.phone,
        email=demo.email,
        password_hash=hash_password(DEMO_PASSWORD),
        language=demo.language,
        payout_account=demo.payout_account,
        created_at=now - timedelta(days=400),
    )
    session.add(customer)
    session.flush()
    if not isinstance(ctx.smdp_for(demo.operator_id), SmdpEmulator):
        return  # a real SM-DP+ has none of these profiles: the customer orders an eSIM
    for index, item in enumerate(demo.esims):
        plan = session.scalar(
            select(Plan).where(Plan.operator_id == demo.operator_id, Plan.code == item.plan)
        )
        assert plan is not None
        _seed_esim(session, ctx, customer, plan, item, index, now)


def _seed_esim(
    session: Session,
    ctx: Context,
    customer: Customer,
    plan: Plan,
    item: DemoEsim,
    index: int,
    now: datetime,
) -> None:
    iccid = Iccid.from_body(item.serial[:15] + item.serial[-3:]).value
    eid = Eid.from_body(f"8904903200000000000000{customer.id:04d}{index:04d}").value
    profile = provision_profile(
        ctx, demo_emulator(ctx, customer.operator_id), plan, iccid, eid, item.installed
    )
    imsi = f"25001{customer.id:05d}{index:05d}"
    esim = Esim(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        plan_id=plan.id,
        iccid=iccid,
        msisdn=item.msisdn,
        imsi=imsi,
        eid=eid if item.installed else None,
        matching_id=profile,
        activation_code=demo_emulator(ctx, customer.operator_id).activation_code(iccid),
        label=item.label or None,
        status=EsimStatus.ACTIVE,
        profile_state=ProfileState.INSTALLED if item.installed else ProfileState.RELEASED,
        activated_at=now - timedelta(days=100),
        billed_until=cycle_start_on_or_before(now, plan.billing_day),
    )
    session.add(esim)
    session.flush()
    ctx.network.provision(imsi=imsi, msisdn=item.msisdn)
    seed_money(session, esim, item, now)


def demo_emulator(ctx: Context, operator_id: str) -> SmdpEmulator:
    gateway = ctx.smdp_for(operator_id)
    if not isinstance(gateway, SmdpEmulator):
        raise RuntimeError("demo eSIMs need the built-in SM-DP+ emulator")
    return gateway


def provision_profile(
    ctx: Context, emulator: SmdpEmulator, plan: Plan, iccid: str, eid: str, installed: bool
) -> str:
    """Walk the profile through the real ES2+ order functions; returns its matching id."""
    emulator.add_inventory(plan.profile_type, [iccid])
    emulator.download_order(iccid=iccid, profile_type=plan.profile_type)
    confirmed = emulator.confirm_order(iccid=iccid, release=True)
    matching_id = confirmed.data["matchingId"]
    if installed:
        emulator.download(emulator.activation_code(iccid), eid)
        emulator.install_result(iccid, True)
    return matching_id


def seed_money(session: Session, esim: Esim, item: DemoEsim, now: datetime) -> None:
    def entry(
        kind: EntryKind, cash: int, bonus: int, text: str, days: int, source: str | None = None
    ) -> None:
        session.add(
            LedgerEntry(
                operator_id=esim.operator_id,
                esim_id=esim.id,
                kind=kind,
                cash_minor=cash,
                bonus_minor=bonus,
                currency="RUB",
                description=text,
                source=source,
                created_at=now - timedelta(days=days),
            )
        )

    entry(EntryKind.TOP_UP, max(item.cash, 0) + 50000, 0, "top-up", 40, "card **** 4242")
    entry(EntryKind.CHARGE, -50000 + min(item.cash, 0), 0, "monthly fee, previous cycle", 22)
    if item.bonus:
        entry(EntryKind.BONUS, 0, item.bonus, "loyalty bonus", 10)
    if item.usage:
        session.add(
            UsageRecord(
                esim_id=esim.id,
                occurred_at=now - timedelta(days=3),
                amount_minor=item.usage,
                currency="RUB",
                description="roaming SMS",
            )
        )


DEMO_STOCK = 20


def stock_demo_inventory(ctx: Context, wanted: int = DEMO_STOCK) -> None:
    """Keep ``wanted`` Available profiles of each emulator-served plan's profile type, numbered
    under the operator's ICCID prefix (so the demo routes notifications by prefix)."""
    emulator = smdp_emulator_of(ctx)
    if emulator is None:
        return
    for operator_id, plans in PLANS.items():
        policy = ctx.policies.get(operator_id)
        if policy is None or ctx.smdp_for(operator_id) is not emulator:
            continue
        prefix = policy.iccid_prefixes[0] if policy.iccid_prefixes else "89990010"
        for _code, _names, _fee, profile_type in plans:
            stock = emulator.profiles(profile_type)
            available = sum(1 for p in stock if p.state is SmdpProfileState.AVAILABLE)
            if available < wanted:
                emulator.generate_inventory(profile_type, wanted - available, prefix)
