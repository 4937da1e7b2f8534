"""ASVS 6.2: length only (8 to 128), no composition rules, the most common passwords refused,
argon2id hashes."""

from __future__ import annotations

import pytest

from esimcare.customers.passwords import check_password_rules, hash_password, verify_password
from esimcare.errors import InvalidInputError


@pytest.mark.parametrize("password", ["short1!", "x" * 129])
def test_a_password_outside_eight_to_128_characters_is_refused(password: str) -> None:
    with pytest.raises(InvalidInputError, match="characters"):
        check_password_rules(password)


@pytest.mark.parametrize("password", ["password", "Password1", "12345678", "ЙЦУКЕНГШ"])
def test_the_most_common_passwords_are_refused_in_any_case(password: str) -> None:
    with pytest.raises(InvalidInputError, match="common"):
        check_password_rules(password)


@pytest.mark.parametrize("password", ["aaaaaaaa", "correct horse battery staple", "x" * 128])
def test_no_composition_rules_only_length(password: str) -> None:
    check_password_rules(password)


def test_the_hash_is_argon2id_and_verifies_only_the_same_password() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
