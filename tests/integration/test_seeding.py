"""`esimcare seed`: bulk synthetic data that is valid, unique, and appended on a second run."""

from __future__ import annotations

from sqlalchemy import func, select

from esimcare.billing.ledger import balance_of
from esimcare.customers.models import Customer
from esimcare.customers.passwords import verify_password
from esimcare.customers.service import find_by_login
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.esims.service import list_esims
from esimcare.kit.ids import Iccid
from esimcare.sandbox.demo_data import DEMO_PASSWORD
from esimcare.sandbox.seeding import SeedRequest, seed_customers


def test_seeding_twice_appends_valid_unique_customers_with_their_esims(
    make_context, db_url: str
) -> None:
    ctx = make_context(database_url=db_url)
    first = seed_customers(ctx, SeedRequest(23, batch=10), progress=False)
    second = seed_customers(ctx, SeedRequest(7, esims_per_customer=2), progress=False)
    assert (first.customers, first.esims, first.ledger_entries) == (23, 69, 138)
    assert (second.customers, second.esims) == (7, 14)
    with transaction(ctx.sessions) as session:
        iccids = list(session.scalars(select(Esim.iccid).where(Esim.msisdn.like("+7998%"))))
        phones = list(session.scalars(select(Customer.phone).where(Customer.phone.like("+7999%"))))
        last = find_by_login(session, "mts", "+79990000029")
        assert last is not None
        views = list_esims(session, "mts", last.id)
        assert session.scalar(select(func.count()).select_from(Esim)) == 69 + 14 + 4
    assert len(iccids) == len(set(iccids)) == 83
    assert all(Iccid.parse(iccid).value == iccid for iccid in iccids)
    assert len(phones) == len(set(phones)) == 30
    assert verify_password(last.password_hash, DEMO_PASSWORD)
    assert [view.balance.cash.minor for view in views] == [50000, 50000]
    with transaction(ctx.sessions) as session:
        assert balance_of(session, views[0].esim.id, "RUB").cash.minor == 50000
