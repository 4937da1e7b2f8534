"""A quote that holds: an id, the amounts, and a validity.

The quote id is a signed token (no table): the eSIM and customer it is for, the moment it was
made, the effective time it promises, until when it holds and a digest of its amounts. A
request that names it executes at the quoted effective time, so the prorated fee stops at the
quoted moment however long the customer read; if the amounts computed for that moment differ
(a top-up or usage arrived meanwhile) or the quote has run out, the customer is asked to look
at a fresh one (``QuoteExpiredError``) rather than silently charged something else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from esimcare.cancellations.quote import Quote
from esimcare.errors import ConflictError, InvalidInputError
from esimcare.i18n import N_
from esimcare.kit.clock import as_utc, iso
from esimcare.kit.tokens import digest, same

# The parts of a quote the customer is promised; a change in any of them voids the quote.
# (Not the refund destination: the number to refund to is typed after the quote is shown.)
_PROMISED = (
    "final_bill",
    "refund",
    "debt",
    "bonus_forfeited",
    "refund_route",
    "effective_at",
)


class QuoteExpiredError(ConflictError):
    """The quote ran out (or its amounts no longer hold): look at a fresh one."""

    code = "quote-expired"
    title = N_("The quote has expired; look at the fresh quote before confirming")


class QuoteRanOutError(QuoteExpiredError):
    """At confirmation: the request is closed as expired, and that must survive the error."""

    commit_before_raising = True


@dataclass(frozen=True)
class QuoteStamp:
    operator_id: str
    customer_id: int
    esim_id: int
    quoted_at: datetime
    effective_at: datetime
    valid_until: datetime
    amounts: str


def amounts_digest(quote: Quote) -> str:
    stored = quote.to_json()
    promised = {name: stored[name] for name in _PROMISED}
    return digest(json.dumps(promised, sort_keys=True))[:32]


def stamp_quote(
    key: bytes, quote: Quote, *, operator_id: str, customer_id: int, esim_id: int,
    quoted_at: datetime, validity: timedelta,
) -> Quote:  # fmt: skip
    """The quote with its id and validity filled in."""
    stamp = QuoteStamp(operator_id, customer_id, esim_id, quoted_at, quote.effective_at,
                       quoted_at + validity, amounts_digest(quote))  # fmt: skip
    return replace(quote, id=_sign(key, stamp), quoted_at=quoted_at, valid_until=stamp.valid_until)


def _sign(key: bytes, stamp: QuoteStamp) -> str:
    body = json.dumps(
        [stamp.operator_id, stamp.customer_id, stamp.esim_id, iso(stamp.quoted_at),
         iso(stamp.effective_at), iso(stamp.valid_until), stamp.amounts],
        separators=(",", ":"),
    )  # fmt: skip
    encoded = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"q1.{encoded}.{_mac(key, encoded)}"


def _mac(key: bytes, encoded: str) -> str:
    mac = hmac.new(key, f"quote:{encoded}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def read_quote_id(key: bytes, quote_id: str) -> QuoteStamp:
    """The stamp inside a quote id, or InvalidInputError for anything we did not sign."""
    version, _, rest = quote_id.partition(".")
    encoded, _, mac = rest.partition(".")
    if version != "q1" or not encoded or not same(_mac(key, encoded), mac):
        raise InvalidInputError("quote_id is not a quote of ours", field="quote_id")
    padded = encoded + "=" * (-len(encoded) % 4)
    fields = json.loads(base64.urlsafe_b64decode(padded))
    operator_id, customer_id, esim_id, quoted, effective, until, amounts = fields
    return QuoteStamp(str(operator_id), int(customer_id), int(esim_id), _moment(quoted),
                      _moment(effective), _moment(until), str(amounts))  # fmt: skip


def _moment(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def check_stamp(
    stamp: QuoteStamp, *, operator_id: str, customer_id: int, esim_id: int, now: datetime
) -> None:
    if (stamp.operator_id, stamp.customer_id, stamp.esim_id) != (
        operator_id,
        customer_id,
        esim_id,
    ):
        raise InvalidInputError("quote_id belongs to another eSIM", field="quote_id")
    if now >= stamp.valid_until:
        raise QuoteExpiredError(
            f"the quote held until {iso(stamp.valid_until)}", esim_id=esim_id,
            expired_at=iso(stamp.valid_until),
        )  # fmt: skip


def check_amounts(stamp: QuoteStamp, requoted: Quote) -> None:
    if amounts_digest(requoted) != stamp.amounts:
        raise QuoteExpiredError(
            "the amounts changed since the quote (a payment or usage arrived)",
            esim_id=stamp.esim_id,
        )


def quote_valid_until(stored: dict[str, object]) -> datetime | None:
    """Until when a cancellation's stored quote holds (None: stored before quotes held)."""
    value = stored.get("valid_until")
    return _moment(value) if isinstance(value, str) else None
