"""How a refund is attributed to the payments the money came from."""

from __future__ import annotations

from esimcare.billing.ledger import split_by_payment
from esimcare.kit.money import Money


def rub(minor: int) -> Money:
    return Money(minor, "RUB")


def test_the_newest_payment_is_refunded_first_and_older_ones_cover_the_rest() -> None:
    parts = split_by_payment(rub(1500), [("newest", rub(1000)), ("older", rub(2000))])
    assert parts == [("newest", rub(1000)), ("older", rub(500))]


def test_payments_not_needed_are_not_touched() -> None:
    assert split_by_payment(rub(300), [("newest", rub(1000)), ("older", rub(2000))]) == [
        ("newest", rub(300))
    ]


def test_what_no_known_payment_covers_is_one_part_without_a_payment() -> None:
    parts = split_by_payment(rub(2500), [(None, rub(700)), ("older", rub(2000))])
    assert parts == [("older", rub(2000)), (None, rub(500))]


def test_no_payment_ids_at_all_is_one_part_for_the_whole_amount() -> None:
    assert split_by_payment(rub(900), [(None, rub(5000))]) == [(None, rub(900))]
