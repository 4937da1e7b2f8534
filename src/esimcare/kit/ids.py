"""Identifier value types, validated at the edge (product glossary; SGP.22 v2.2 section 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_SEPARATORS = re.compile(r"[\s\-().]")
# "+" and at most 15 digits (E.164), with room for a national trunk prefix.
_MAX_PHONE_TEXT = 20


class InvalidIdentifierError(ValueError):
    """An identifier failed validation; the message is safe to show to a user."""


def luhn_check_digit(body: str) -> int:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    return digits.isdigit() and luhn_check_digit(digits[:-1]) == int(digits[-1])


@dataclass(frozen=True, slots=True)
class Iccid:
    """Profile card number: 19 or 20 digits ending in a Luhn check digit.

    A trailing ``F`` pads a 19-digit ICCID to 20 characters; it names the same profile, so the
    padding is removed here and the bare digits are the canonical form.
    """

    value: str

    @classmethod
    def parse(cls, raw: str) -> Iccid:
        text = _SEPARATORS.sub("", raw).upper()
        if text.endswith("F"):
            text = text[:-1]
        if not text.isdigit() or len(text) not in (19, 20):
            raise InvalidIdentifierError("an ICCID has 19 or 20 digits")
        if not luhn_valid(text):
            raise InvalidIdentifierError("the ICCID check digit is wrong")
        return cls(text)

    @classmethod
    def from_body(cls, body: str) -> Iccid:
        """Complete an 18- or 19-digit body with its check digit."""
        return cls.parse(body + str(luhn_check_digit(body)))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Eid:
    """eUICC identifier: 32 digits whose value mod 97 is 1 (GSMA SGP.29 / ISO 7064)."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Eid:
        text = _SEPARATORS.sub("", raw)
        if not text.isdigit() or len(text) != 32:
            raise InvalidIdentifierError("an EID has 32 digits")
        if int(text) % 97 != 1:
            raise InvalidIdentifierError("the EID check digits are wrong")
        return cls(text)

    @classmethod
    def from_body(cls, body30: str) -> Eid:
        check = 98 - (int(body30 + "00") % 97)
        return cls.parse(f"{body30}{check:02d}")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Msisdn:
    """A phone number in E.164 (``+`` and the country code), checked against the numbering plan.

    Numbers typed without a country code are read in the operator's ``region`` (an ISO 3166
    code such as ``RU``), with its trunk prefix: in RU, ``9161234567`` and ``8 916 123-45-67``
    are ``+79161234567``. Without a region only the international form is accepted, so a
    national number is refused rather than guessed (never ``+9161234567``).
    """

    value: str

    @classmethod
    def parse(cls, raw: str, region: str | None = None) -> Msisdn:
        text = _SEPARATORS.sub("", raw)
        if text.startswith("00"):
            text = "+" + text[2:]  # the international call prefix most of the world dials
        if not text.startswith("+") and region is None:
            raise InvalidIdentifierError("give the number with its country code, like +79161234567")
        if len(text) > _MAX_PHONE_TEXT or not text.lstrip("+").isdigit():
            raise InvalidIdentifierError("a phone number has only digits, like +79161234567")
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            raise InvalidIdentifierError("this is not a phone number, like +79161234567") from None
        if not phonenumbers.is_valid_number(number):
            raise InvalidIdentifierError("no such phone number exists; check the digits")
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def masked(self) -> str:
        """Show only enough to recognise one's own number: +7********01, +49**********01."""
        country = f"+{phonenumbers.parse(self.value).country_code}"
        hidden = len(self.value) - len(country) - 2
        return f"{country}{'*' * hidden}{self.value[-2:]}"

    def international(self) -> str:
        """Grouped the way the number's own country writes it: +7 916 000-00-01,
        +49 30 1234567, +86 138 0013 8000."""
        number = phonenumbers.parse(self.value)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Imsi:
    """Subscriber identity in the network: 14 or 15 digits (ITU-T E.212)."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Imsi:
        text = raw.strip()
        if not text.isdigit() or len(text) not in (14, 15):
            raise InvalidIdentifierError("an IMSI has 14 or 15 digits")
        return cls(text)

    def __str__(self) -> str:
        return self.value


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
