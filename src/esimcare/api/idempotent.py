"""Idempotency-Key for POSTs that create something (IETF idempotency-key draft; Stripe).

The key is scoped to the operator, the customer and the request path; the fingerprint is the
canonical JSON of the validated body, so whitespace or key order do not make a "different" body.
The operations themselves (``do_*``) claim the key, run and store the answer (idempotency/once.py).
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.errors import IdempotencyKeyMissingError
from esimcare.idempotency.once import Once
from esimcare.idempotency.service import IdempotencyStore


class IdempotentCall(Once):
    @classmethod
    def of(
        cls, ctx: Context, key: str | None, customer: Customer, *, path: str, body: BaseModel
    ) -> IdempotentCall:
        """Scoped to the operator, the customer and the path: keys never collide across them."""
        if key is None:
            raise IdempotencyKeyMissingError()
        store = IdempotencyStore(ctx.sessions, ctx.clock, ctx.settings.limits.idempotency_ttl_s)
        canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
        return cls(
            store=store,
            scope=f"{customer.operator_id}:{customer.id}:POST {path}",
            key=key,
            request_hash=store.request_hash("POST", path, canonical),
        )
