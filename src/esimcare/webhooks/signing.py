"""Webhook signatures, Stripe-style: ``Esimcare-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 with the operator's webhook secret over ``"<t>.<raw body>"``. A receiver
recomputes it over the bytes it received, compares in constant time, refuses a timestamp more
than the tolerance (300 s) away from its own clock, and remembers the event id (``id`` in the
signed body, also sent as ``Esimcare-Event-Id``) of what it accepted within that window, so a
captured request replayed later is refused either for its age or for its id.
:class:`WebhookVerifier` does all three.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

SIGNATURE_HEADER = "Esimcare-Signature"
EVENT_ID_HEADER = "Esimcare-Event-Id"
TOLERANCE_S = 300


class SignatureError(ValueError):
    """The request is not a webhook from esimcare, or it is an old one played again."""


def signature_for(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature_for(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    return timestamp, signatures


def _event_id(body: bytes) -> str:
    try:
        event = json.loads(body)
    except ValueError:
        raise SignatureError("body is not JSON") from None
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id:
        raise SignatureError("event id missing")
    return event_id


@dataclass
class WebhookVerifier:
    """For receivers (and the tests): checks signature, age and replay of one request.

    ``seen`` maps accepted event ids to their timestamps; entries older than the window are
    dropped, since the age check alone refuses those. Keep one verifier per receiver process
    (or back ``seen`` with a shared store when there are several).
    """

    secret: str
    tolerance_s: int = TOLERANCE_S
    seen: dict[str, int] = field(default_factory=dict)

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
        """Return the event id of a genuine, fresh, first-seen delivery; else SignatureError."""
        lowered = {key.lower(): value for key, value in headers.items()}
        header = lowered.get(SIGNATURE_HEADER.lower())
        if not header:
            raise SignatureError("signature missing")
        timestamp, signatures = _parse(header)
        expected = signature_for(self.secret, timestamp, body)
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise SignatureError("signature does not match")
        # The id is read from the signed body: a header could be changed by whoever replays.
        event_id = _event_id(body)
        current = int(now.timestamp())
        if abs(current - timestamp) > self.tolerance_s:
            raise SignatureError("timestamp too far from now: an old request played again?")
        self._forget_before(current - self.tolerance_s)
        if event_id in self.seen:
            raise SignatureError("event already received: a replay")
        self.seen[event_id] = timestamp
        return event_id

    def _forget_before(self, oldest: int) -> None:
        for event_id in [key for key, at in self.seen.items() if at < oldest]:
            del self.seen[event_id]
