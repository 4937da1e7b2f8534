"""Phone numbers are read with the numbering plan of the operator's region, never guessed:
9161234567 in RU is +79161234567, and without a region it is refused, not +9161234567."""

from __future__ import annotations

import pytest

from esimcare.esims.number_pool import number_length
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.operators.policy import PolicyError, load_policies, parse_policy
from esimcare.sandbox.demo_data import POLICIES


@pytest.mark.parametrize(
    "raw",
    ["9161234567", "89161234567", "8 (916) 123-45-67", "+7 916 123 45 67", "0079161234567"],
)
def test_a_russian_number_typed_any_usual_way_is_read_in_ru(raw: str) -> None:
    assert Msisdn.parse(raw, "RU").value == "+79161234567"


@pytest.mark.parametrize("raw", ["9161234567", "89161234567"])
def test_a_national_number_without_a_region_is_refused_not_guessed(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="country code"):
        Msisdn.parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "+9161234567",  # no country +916 exists: the old reading of 9161234567
        "+7916123456",  # a digit short
        "916123456",  # a digit short, in RU
        "+79161234567890",
        "+7916abc4567",
        "",
        "+",
        "1" * 40,
    ],
)
def test_numbers_that_cannot_exist_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        Msisdn.parse(raw, "RU")


def test_a_foreign_number_with_its_country_code_is_kept_in_any_region() -> None:
    assert Msisdn.parse("+86 138 0013 8000", "RU").value == "+8613800138000"
    assert Msisdn.parse("+1 202 555 0123").value == "+12025550123"


def test_the_demo_operators_read_numbers_in_russia() -> None:
    policies = load_policies(POLICIES)
    assert {policy.region for policy in policies.values()} == {"RU"}
    assert set(policies) == {"mts", "beeline", "megafon"}


def test_an_unknown_region_in_the_operators_file_is_refused() -> None:
    raw = {
        "name": "X", "verification_methods": ["sms"], "refund_route": "card", "currency": "EUR",
        "debt_blocks_cancellation": False, "grace_period_hours": 0,
        "number_quarantine_days": 0, "smdp_final_status": "Unavailable", "hotline": "1",
        "hotline_hours": {"en": "24/7"}, "support_email": "a@b.invalid",
        "reasons": [{"code": "x", "en": "X"}],
    }  # fmt: skip
    assert parse_policy("x", raw).region is None
    assert parse_policy("x", {**raw, "region": "ru"}).region == "RU"
    with pytest.raises(PolicyError, match="region"):
        parse_policy("x", {**raw, "region": "XX"})


@pytest.mark.parametrize(
    ("prefix", "length"),
    [("+7916", 12), ("+4915", 14), ("+1202", 12), ("+86138", 14), ("+35387", 13)],
)
def test_a_number_range_is_as_long_as_its_countrys_mobile_numbers(prefix: str, length: int) -> None:
    assert number_length(prefix) == length


def test_a_number_range_without_a_country_code_is_refused() -> None:
    with pytest.raises(ValueError, match="no country code"):
        number_length("+0123")


@pytest.mark.parametrize(
    ("number", "shown"),
    [("+79160000001", "+7 916 000-00-01"), ("+4930123456", "+49 30 123456")],
)
def test_a_number_is_grouped_the_way_its_country_writes_it(number: str, shown: str) -> None:
    assert Msisdn.parse(number).international() == shown
    assert Msisdn.parse(number).masked().startswith(shown.split(" ")[0] + "*")
