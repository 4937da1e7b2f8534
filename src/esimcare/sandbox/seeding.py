"""Synthetic customers and eSIMs in bulk, for benchmarks and load tests (`esimcare seed`).

Rows go in with SQLAlchemy Core multi-row INSERTs, one transaction per batch, so a million
eSIMs take minutes rather than hours. Two shortcuts keep it that fast, and both matter when
reading the results:

* every synthetic customer shares ONE argon2 hash (of the demo password): hashing 100,000
  passwords one by one would take hours and measure nothing but argon2;
* bulk eSIMs have no profile in the SM-DP+ emulator and no subscriber in the network registry.
  They are enough for the read path (listing, balances) but cannot be cancelled end to end;
  ``seed_cancellable`` makes the slower, complete kind for the cancellation benchmark.

Synthetic identifiers live in reserved ranges that demo and real data do not use: customers
+7999nnnnnnn, bulk eSIMs +7998nnnnnnn, cancellable ones +7997nnnnnnn, and ICCIDs carry a
9 (bulk) or 8 (cancellable) right after the operator's issuer prefix. Seeding again appends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select

from esimcare.billing.final_bill import cycle_start_on_or_before
from esimcare.billing.models import EntryKind, LedgerEntry
from esimcare.cancellations.quote import Quote
from esimcare.cancellations.service import request_cancellation, verify
from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.customers.passwords import hash_password
from esimcare.db import Base, transaction
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.kit.ids import Eid, Iccid, luhn_check_digit
from esimcare.kit.progress import ProgressBar
from esimcare.sandbox.demo_data import (
    DEMO_PASSWORD,
    PLANS,
    DemoEsim,
    demo_emulator,
    provision_profile,
    seed_money,
)

CUSTOMER_PREFIX = "+7999"
BULK_MSISDN_PREFIX = "+7998"
CANCELLABLE_PREFIX = "+7997"
RANGE = 10**7  # seven digits after each prefix
BULK_MARK, CANCELLABLE_MARK = "9", "8"


@dataclass(frozen=True)
class SeedRequest:
    customers: int
    esims_per_customer: int = 3
    operator_id: str = "mts"
    batch: int = 5000

    def __post_init__(self) -> None:
        if self.customers < 0 or not 1 <= self.esims_per_customer <= 20 or self.batch < 1:
            raise ValueError("customers >= 0, 1 <= esims-per-customer <= 20, batch >= 1")


@dataclass(frozen=True)
class SeedReport:
    customers: int
    esims: int
    ledger_entries: int


@dataclass(frozen=True)
class _PlanRow:
    id: int
    billed_until: datetime


@dataclass(frozen=True)
class _Start:
    """Where this run's serial numbers begin, so seeding again appends instead of colliding."""

    customer: int
    esim: int


def seed_customers(ctx: Context, request: SeedRequest, *, progress: bool = True) -> SeedReport:
    """Append ``request.customers`` customers with their eSIMs and ledger entries."""
    policy = ctx.policy(request.operator_id)
    if not policy.iccid_prefixes:
        raise ValueError(f"operator {request.operator_id!r} has no ICCID prefix to seed with")
    now = ctx.clock.now()
    plans = ensure_plans(ctx, request.operator_id)
    password_hash = hash_password(DEMO_PASSWORD)
    with ctx.engine.connect() as conn:
        start = _start(conn, request.operator_id)
    if start.customer + request.customers > RANGE:
        raise ValueError("the synthetic customer number range is exhausted")
    if start.esim + request.customers * request.esims_per_customer > RANGE:
        raise ValueError("the synthetic eSIM number range is exhausted")
    bar = ProgressBar(request.customers, "seed customers") if progress else None
    made = SeedReport(0, 0, 0)
    for offset in range(0, request.customers, request.batch):
        count = min(request.batch, request.customers - offset)
        batch = _Batch(request, policy.iccid_prefixes[0], plans, password_hash, now)
        with ctx.engine.begin() as conn:
            added = batch.insert(conn, start.customer + offset, start.esim, offset, count)
        made = SeedReport(*(a + b for a, b in zip(_fields(made), _fields(added), strict=True)))
        if bar is not None:
            bar.advance(count)
    if bar is not None:
        bar.close()
    return made


def _fields(report: SeedReport) -> tuple[int, int, int]:
    return report.customers, report.esims, report.ledger_entries


def ensure_plans(ctx: Context, operator_id: str) -> list[_PlanRow]:
    """The operator's plans; the demo plans are created first when it has none."""
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        plans = list(session.scalars(select(Plan).where(Plan.operator_id == operator_id)))
        if not plans:
            for code, names, fee, profile_type in PLANS.get(operator_id, ()):
                session.add(
                    Plan(
                        operator_id=operator_id,
                        code=code,
                        names=names,
                        monthly_fee_minor=fee,
                        currency=ctx.policy(operator_id).currency,
                        billing_day=1,
                        profile_type=profile_type,
                    )
                )
            session.flush()
            plans = list(session.scalars(select(Plan).where(Plan.operator_id == operator_id)))
        if not plans:
            raise ValueError(f"operator {operator_id!r} has no plans to give synthetic eSIMs")
        return [_PlanRow(p.id, cycle_start_on_or_before(now, p.billing_day)) for p in plans]


def _start(conn: Connection, operator_id: str) -> _Start:
    customers = conn.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.operator_id == operator_id, Customer.phone.like(f"{CUSTOMER_PREFIX}%"))
    )
    esims = conn.scalar(
        select(func.count()).select_from(Esim).where(Esim.msisdn.like(f"{BULK_MSISDN_PREFIX}%"))
    )
    return _Start(customer=int(customers or 0), esim=int(esims or 0))


def _ids_in_range(
    conn: Connection, id_column: Any, number: Any, first: str, last: str, *where: Any
) -> list[int]:
    """Ids of the rows whose fixed-width number lies in [first, last], in number order."""
    query = select(id_column).where(number.between(first, last), *where).order_by(number)
    return [int(i) for i in conn.execute(query).scalars().all()]


def _bulk_insert(conn: Connection, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY, several times faster than multi-row INSERTs; elsewhere executemany.

    COPY skips SQLAlchemy's Python-side defaults, so every row names every required column.
    """
    table = cast(Table, model.__table__)
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"  # our own names only
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([_plain(row[column]) for column in columns])


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


@dataclass(frozen=True)
class _Batch:
    request: SeedRequest
    iccid_prefix: str
    plans: Sequence[_PlanRow]
    password_hash: str
    now: datetime

    def insert(
        self, conn: Connection, first_customer: int, esim_start: int, offset: int, count: int
    ) -> SeedReport:
        customers = [self._customer(first_customer + i) for i in range(count)]
        _bulk_insert(conn, Customer, customers)
        # Read the new ids back by number range (indexed) rather than with RETURNING, which
        # SQLite would answer one row per statement when asked to keep the order.
        customer_ids = _ids_in_range(
            conn,
            Customer.id,
            Customer.phone,
            customers[0]["phone"],
            customers[-1]["phone"],
            # The (operator_id, phone) unique index answers this only with the operator given.
            Customer.operator_id == self.request.operator_id,
        )
        per = self.request.esims_per_customer
        esim_rows = [
            self._esim(customer_id, esim_start + (offset + i) * per + j, j)
            for i, customer_id in enumerate(customer_ids)
            for j in range(per)
        ]
        _bulk_insert(conn, Esim, esim_rows)
        esim_ids = _ids_in_range(
            conn, Esim.id, Esim.msisdn, esim_rows[0]["msisdn"], esim_rows[-1]["msisdn"]
        )
        entries = [entry for esim_id in esim_ids for entry in self._ledger(esim_id)]
        _bulk_insert(conn, LedgerEntry, entries)
        return SeedReport(count, len(esim_rows), len(entries))

    def _customer(self, serial: int) -> dict[str, Any]:
        return {
            "operator_id": self.request.operator_id,
            "name": f"Synthetic Customer {serial}",
            "phone": f"{CUSTOMER_PREFIX}{serial:07d}",
            "email": f"seed-{serial}@seed.invalid",
            "password_hash": self.password_hash,
            "language": "ru",
            "lock_level": 0,
            "cancellation_lock": False,
            "created_at": self.now - timedelta(days=400),
        }

    def _esim(self, customer_id: int, serial: int, index: int) -> dict[str, Any]:
        plan = self.plans[index % len(self.plans)]
        body = f"{self.iccid_prefix}{BULK_MARK}{serial:0{17 - len(self.iccid_prefix)}d}"
        return {
            "operator_id": self.request.operator_id,
            "customer_id": customer_id,
            "plan_id": plan.id,
            "iccid": body + str(luhn_check_digit(body)),
            "msisdn": f"{BULK_MSISDN_PREFIX}{serial:07d}",
            "imsi": f"25099{serial:010d}",
            "eid": Eid.from_body(f"89049032{BULK_MARK}{serial:021d}").value,
            "label": None,
            "status": EsimStatus.ACTIVE,
            "profile_state": ProfileState.INSTALLED,
            "activated_at": self.now - timedelta(days=100),
            "billed_until": plan.billed_until,
        }

    def _ledger(self, esim_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        common = {
            "operator_id": self.request.operator_id,
            "esim_id": esim_id,
            "bonus_minor": 0,
            "currency": "RUB",
            "reference": None,
        }
        top_up = {
            **common,
            "kind": EntryKind.TOP_UP,
            "cash_minor": 100000,
            "description": "top-up",
            "source": "card **** 4242",
            "created_at": self.now - timedelta(days=40),
        }
        charge = {
            **common,
            "kind": EntryKind.CHARGE,
            "cash_minor": -50000,
            "description": "monthly fee, previous cycle",
            "source": None,
            "created_at": self.now - timedelta(days=22),
        }
        return top_up, charge


@dataclass(frozen=True)
class Cancellable:
    customer_id: int
    esim_id: int
    phone: str
    operator_id: str

    @property
    def customer(self) -> CustomerKey:
        return CustomerKey(self.operator_id, self.customer_id)


def seed_cancellable(ctx: Context, n: int, operator_id: str = "mts") -> list[Cancellable]:
    """``n`` customers with one eSIM each that can really be cancelled: the profile exists in
    the SM-DP+ emulator, the subscriber in the network registry, and the account is in credit
    (so a refund is due). Slower than ``seed_customers``: several emulator commits per eSIM."""
    policy = ctx.policy(operator_id)
    plans = ensure_plans(ctx, operator_id)
    password_hash = hash_password(DEMO_PASSWORD)
    with ctx.engine.connect() as conn:
        first = conn.scalar(
            select(func.count()).select_from(Esim).where(Esim.msisdn.like(f"{CANCELLABLE_PREFIX}%"))
        )
    made: list[Cancellable] = []
    for serial in range(int(first or 0), int(first or 0) + n):
        with transaction(ctx.sessions) as session:
            customer = Customer(
                operator_id=operator_id,
                name=f"Cancelling Customer {serial}",
                phone=f"{CANCELLABLE_PREFIX}{serial:07d}",
                email=f"cancel-{serial}@seed.invalid",
                password_hash=password_hash,
                language="en",
                created_at=ctx.clock.now() - timedelta(days=400),
            )
            session.add(customer)
            session.flush()
            plan = session.get(Plan, plans[0].id)
            assert plan is not None
            esim = _cancellable_esim(ctx, customer, plan, policy.iccid_prefixes[0], serial)
            session.add(esim)
            session.flush()
            item = DemoEsim("", customer.phone, "", installed=True, cash=150000, usage=0)
            seed_money(session, esim, item, ctx.clock.now())
            made.append(Cancellable(customer.id, esim.id, customer.phone, customer.operator_id))
    return made


def _cancellable_esim(
    ctx: Context, customer: Customer, plan: Plan, iccid_prefix: str, serial: int
) -> Esim:
    now = ctx.clock.now()
    body = f"{iccid_prefix}{CANCELLABLE_MARK}{serial:0{17 - len(iccid_prefix)}d}"
    iccid = Iccid.from_body(body).value
    eid = Eid.from_body(f"89049032{CANCELLABLE_MARK}{serial:021d}").value
    emulator = demo_emulator(ctx, customer.operator_id)
    matching_id = provision_profile(ctx, emulator, plan, iccid, eid, True)
    imsi = f"25097{serial:010d}"
    ctx.network.provision(imsi=imsi, msisdn=customer.phone)
    return Esim(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        plan_id=plan.id,
        iccid=iccid,
        msisdn=customer.phone,
        imsi=imsi,
        eid=eid,
        matching_id=matching_id,
        status=EsimStatus.ACTIVE,
        profile_state=ProfileState.INSTALLED,
        activated_at=now - timedelta(days=100),
        billed_until=cycle_start_on_or_before(now, plan.billing_day),
    )


def cancel_as_customer(
    ctx: Context, customer: CustomerKey, esim_id: int, reason: str = "not_needed"
) -> tuple[int, Quote]:
    """Request a cancellation and verify it with its SMS code, as the customer would: synthetic
    load for benchmarks and fault tests. Returns the cancellation id and the quote. The
    customer is read by each phase's own first statement, as signed in by key."""
    with transaction(ctx.sessions) as session:
        requested = request_cancellation(session, ctx, customer, esim_id, reason=reason)
        if requested.code is None:
            raise ValueError(f"{customer.operator_id} does not verify by SMS code")
        cancellation_id, code = requested.cancellation.id, requested.code.code
    with transaction(ctx.sessions) as session:
        verify(session, ctx, customer, cancellation_id, method="sms", secret=code)
    return cancellation_id, requested.quote
