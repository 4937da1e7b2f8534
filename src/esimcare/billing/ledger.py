"""An eSIM's personal account: the sum of its ledger entries, cash and bonus apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from esimcare.billing.models import EntryKind, LedgerEntry
from esimcare.esims.models import Esim
from esimcare.kit.money import Money


@dataclass(frozen=True)
class Balance:
    cash: Money
    bonus: Money

    @property
    def debt(self) -> Money:
        return (-self.cash).clamp_at_zero()

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"cash": self.cash.to_json(), "bonus": self.bonus.to_json()}


def balance_of(session: Session, esim_id: int, currency: str) -> Balance:
    cash, bonus = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.cash_minor), 0),
            func.coalesce(func.sum(LedgerEntry.bonus_minor), 0),
        ).where(LedgerEntry.esim_id == esim_id)
    ).one()
    return Balance(Money(int(cash), currency), Money(int(bonus), currency))


LEDGER = cast(Table, LedgerEntry.__table__)
# Cash and bonus totals of the ledger rows joined (outer) to an eSIM, for a statement grouped
# by the eSIM: one pass over its entries (an index range on ``ledger_entries.esim_id``).
CASH_TOTAL = func.coalesce(func.sum(LEDGER.c.cash_minor), 0)
BONUS_TOTAL = func.coalesce(func.sum(LEDGER.c.bonus_minor), 0)


def balances_of(session: Session, currencies: dict[int, str]) -> dict[int, Balance]:
    """Balances of many eSIMs (id -> currency) in one grouped query, for lists."""
    sums = {
        esim_id: (int(cash), int(bonus))
        for esim_id, cash, bonus in session.execute(
            select(
                LedgerEntry.esim_id,
                func.coalesce(func.sum(LedgerEntry.cash_minor), 0),
                func.coalesce(func.sum(LedgerEntry.bonus_minor), 0),
            )
            .where(LedgerEntry.esim_id.in_(list(currencies)))
            .group_by(LedgerEntry.esim_id)
        )
    }
    return {
        esim_id: Balance(
            Money(sums.get(esim_id, (0, 0))[0], currency),
            Money(sums.get(esim_id, (0, 0))[1], currency),
        )
        for esim_id, currency in currencies.items()
    }


def post(
    session: Session,
    esim: Esim,
    *,
    kind: EntryKind,
    cash: Money,
    bonus: Money,
    description: str,
    now: datetime,
    reference: str | None = None,
    source: str | None = None,
    provider_payment_id: str | None = None,
) -> LedgerEntry:
    posted = LedgerEntry(
        **entry(
            esim,
            kind=kind,
            cash=cash,
            bonus=bonus,
            description=description,
            now=now,
            reference=reference,
            source=source,
            provider_payment_id=provider_payment_id,
        )
    )
    session.add(posted)
    session.flush()
    return posted


def latest_card(session: Session, esim_id: int) -> str | None:
    """The card the money came from most recently: refunds go back to it."""
    return session.scalar(
        select(LedgerEntry.source)
        .where(
            LedgerEntry.esim_id == esim_id,
            LedgerEntry.kind == EntryKind.TOP_UP,
            LedgerEntry.source.is_not(None),
        )
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(1)
    )


def top_ups_newest_first(session: Session, esim_id: int) -> list[tuple[str | None, Money]]:
    """Each top-up's provider payment id (None where unknown) and amount, newest first."""
    rows = session.execute(
        select(LedgerEntry.provider_payment_id, LedgerEntry.cash_minor, LedgerEntry.currency)
        .where(
            LedgerEntry.esim_id == esim_id,
            LedgerEntry.kind == EntryKind.TOP_UP,
            LedgerEntry.cash_minor > 0,
        )
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
    )
    return [(payment_id, Money(cash, currency)) for payment_id, cash, currency in rows]


@dataclass(frozen=True)
class TopUp:
    """One top-up entry: its provider payment id and card (None where unknown) and amount."""

    payment_id: str | None
    source: str | None
    amount: Money


def top_ups_of(session: Session, esim_id: int) -> list[TopUp]:
    """Every top-up of the eSIM, newest first, in one query: what ``latest_card`` and
    ``top_ups_newest_first`` read, for a caller that needs both."""
    rows = session.execute(
        select(
            LedgerEntry.provider_payment_id,
            LedgerEntry.source,
            LedgerEntry.cash_minor,
            LedgerEntry.currency,
        )
        .where(LedgerEntry.esim_id == esim_id, LedgerEntry.kind == EntryKind.TOP_UP)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
    )
    return [TopUp(payment_id, source, Money(cash, currency))
            for payment_id, source, cash, currency in rows]  # fmt: skip


def latest_card_of(top_ups: list[TopUp]) -> str | None:
    """``latest_card`` over ``top_ups_of``'s list."""
    return next((top_up.source for top_up in top_ups if top_up.source is not None), None)


def paid_top_ups(top_ups: list[TopUp]) -> list[tuple[str | None, Money]]:
    """``top_ups_newest_first`` over ``top_ups_of``'s list."""
    return [(top_up.payment_id, top_up.amount) for top_up in top_ups if top_up.amount.minor > 0]


def split_by_payment(
    total: Money, top_ups: list[tuple[str | None, Money]]
) -> list[tuple[str | None, Money]]:
    """Attribute ``total`` to the payments it came from, newest first, at most each payment's
    amount: charges spend the oldest money first, so what is left is the newest.

    Top-ups whose payment is not known are passed over, so the known payments cover as much as
    they can; whatever they cannot cover is one part with no payment id (a payout to a
    destination can still pay it; a provider that refunds payments refuses it).
    """
    parts: list[tuple[str | None, Money]] = []
    left = total
    for payment_id, amount in top_ups:
        if left.minor <= 0:
            break
        if payment_id is None or amount.currency != total.currency:
            continue
        share = Money(min(left.minor, amount.minor), total.currency)
        parts.append((payment_id, share))
        left = left - share
    if left.minor > 0:
        parts.append((None, left))
    return parts


_POST = insert(LEDGER)


def entry(
    esim: Esim,
    *,
    kind: EntryKind,
    cash: Money,
    bonus: Money,
    description: str,
    now: datetime,
    reference: str | None = None,
    source: str | None = None,
    provider_payment_id: str | None = None,
) -> dict[str, Any]:
    """One ledger row, as ``post_all`` writes it (``post``'s fields)."""
    return {
        "operator_id": esim.operator_id,
        "esim_id": esim.id,
        "kind": kind,
        "cash_minor": cash.minor,
        "bonus_minor": bonus.minor,
        "currency": cash.currency,
        "description": description,
        "reference": reference,
        "source": source,
        "provider_payment_id": provider_payment_id,
        "created_at": now,
    }


def post_all(session: Session, entries: list[dict[str, Any]]) -> None:
    """``post`` for rows that need no ORM object afterwards: one statement for all."""
    if entries:
        session.execute(_POST, entries)


_TOP_UPS = LEDGER.alias("top_ups")
_TOTALS = (
    select(CASH_TOTAL.label("cash"), BONUS_TOTAL.label("bonus"))
    .where(LEDGER.c.esim_id == bindparam("for_esim"))
    .subquery("totals")
)
# The balance, and each top-up newest first, in one round trip: a row per top-up (each
# carrying the totals), or one row with no top-up when there is none.
_BALANCE_AND_TOP_UPS = (
    select(
        _TOTALS.c.cash,
        _TOTALS.c.bonus,
        _TOP_UPS.c.id,
        _TOP_UPS.c.provider_payment_id,
        _TOP_UPS.c.source,
        _TOP_UPS.c.cash_minor,
        _TOP_UPS.c.currency,
    )
    .select_from(_TOTALS)
    .outerjoin(
        _TOP_UPS,
        (_TOP_UPS.c.esim_id == bindparam("for_esim")) & (_TOP_UPS.c.kind == EntryKind.TOP_UP),
    )
    .order_by(_TOP_UPS.c.created_at.desc(), _TOP_UPS.c.id.desc())
)


def balance_and_top_ups(
    session: Session, esim_id: int, currency: str
) -> tuple[Balance, list[TopUp]]:
    """``balance_of`` and ``top_ups_of`` in one query."""
    rows = session.execute(_BALANCE_AND_TOP_UPS, {"for_esim": esim_id}).all()
    cash, bonus = rows[0].cash, rows[0].bonus
    top_ups = [TopUp(row.provider_payment_id, row.source, Money(row.cash_minor, row.currency))
               for row in rows if row.id is not None]  # fmt: skip
    return Balance(Money(int(cash), currency), Money(int(bonus), currency)), top_ups
