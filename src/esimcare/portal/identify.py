"""'Which operator is my eSIM from?': answered from the operators' published number ranges only.

No database lookup: the answer is the same whether or not anyone holds that eSIM, so the form
reveals nothing about who is a customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from esimcare.kit.ids import Iccid, InvalidIdentifierError, Msisdn
from esimcare.operators.policy import Policy
from esimcare.portal.i18n import N_

_SEPARATORS = re.compile(r"[\s\-().]")
MAX_INPUT = 40


@dataclass(frozen=True)
class Identification:
    kind: str  # "iccid" or "number"
    value: str
    operators: tuple[Policy, ...] = ()
    error: str | None = None  # an English msgid


def identify(policies: dict[str, Policy], raw: str) -> Identification:
    text = _SEPARATORS.sub("", raw.strip())[:MAX_INPUT]
    if not text:
        return Identification("", "", error=N_("Enter an ICCID or a phone number."))
    digits = text.upper().removesuffix("F")
    if digits.isdigit() and len(digits) >= 18:
        return _by_iccid(policies, text)
    return _by_number(policies, text)


def _by_iccid(policies: dict[str, Policy], text: str) -> Identification:
    try:
        iccid = Iccid.parse(text).value
    except InvalidIdentifierError as error:
        if "check digit" in str(error):
            message = N_(
                "This ICCID is not valid: its last (check) digit does not match. "
                "Please compare it digit by digit with the one in your phone's settings."
            )
        else:
            message = N_("An ICCID has 19 or 20 digits. Please check the number.")
        return Identification("iccid", text, error=message)
    found = tuple(
        p for p in policies.values() if any(iccid.startswith(x) for x in p.iccid_prefixes)
    )
    return Identification("iccid", iccid, found)


def _by_number(policies: dict[str, Policy], text: str) -> Identification:
    """Each operator reads a number without country code in its own region."""
    readings = {policy.operator_id: _read(text, policy.region) for policy in policies.values()}
    numbers = [number for number in readings.values() if number]
    if not numbers:
        message = N_("This does not look like a phone number or an ICCID. Please check it.")
        return Identification("number", text, error=message)
    found = tuple(
        policy
        for policy in policies.values()
        if any((readings[policy.operator_id] or "").startswith(x) for x in policy.msisdn_prefixes)
    )
    shown = readings[found[0].operator_id] if found else numbers[0]
    return Identification("number", shown or numbers[0], found)


def _read(text: str, region: str | None) -> str | None:
    try:
        return Msisdn.parse(text, region).value
    except InvalidIdentifierError:
        return None
