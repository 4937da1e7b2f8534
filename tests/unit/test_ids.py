from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esimcare.kit.ids import Eid, Iccid, InvalidIdentifierError, Msisdn, luhn_valid


def test_a_padded_iccid_is_the_same_profile_as_the_bare_one() -> None:
    bare = Iccid.from_body("897010100000000001")
    assert Iccid.parse(bare.value + "F") == bare
    assert Iccid.parse(bare.value + "f") == bare


def test_an_iccid_with_a_wrong_check_digit_is_refused() -> None:
    good = Iccid.from_body("897010100000000001").value
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentifierError, match="check digit"):
        Iccid.parse(wrong)


@pytest.mark.parametrize("raw", ["", "1234", "89701010000000000012345", "8970101abc0000000001"])
def test_iccids_of_the_wrong_shape_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        Iccid.parse(raw)


@given(st.text(alphabet="0123456789", min_size=18, max_size=19))
def test_every_completed_iccid_body_passes_luhn(body: str) -> None:
    assert luhn_valid(Iccid.from_body(body).value)


def test_an_eid_must_have_32_digits_and_valid_check_digits() -> None:
    eid = Eid.from_body("890490320000000000000000000012")
    assert len(eid.value) == 32
    assert int(eid.value) % 97 == 1
    with pytest.raises(InvalidIdentifierError):
        Eid.parse(eid.value[:-1] + str((int(eid.value[-1]) + 1) % 10))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 916 000-00-01", "+79160000001"),
        ("8 (916) 000 00 01", "+79160000001"),
        ("0079160000001", "+79160000001"),
        ("+86 138 0013 8000", "+8613800138000"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert Msisdn.parse(raw, "RU").value == expected


@pytest.mark.parametrize("raw", ["+0123456789", "12", "+7916abc", "+1234567890123456"])
def test_malformed_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        Msisdn.parse(raw)


def test_a_masked_number_shows_only_its_country_and_last_two_digits() -> None:
    assert Msisdn.parse("+79160000001").masked() == "+7********01"
