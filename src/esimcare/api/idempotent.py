"""Idempotency-Key for POSTs that create something (IETF idempotency-key draft; Stripe).

The key is scoped to the operator, the customer and the request path; the fingerprint is the
canonical JSON of the validated body, so whitespace or key order do not make a "different" body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.errors import IdempotencyKeyMissingError
from esimcare.idempotency.service import IdempotencyStore, StoredResponse


@dataclass(frozen=True)
class IdempotentCall:
    store: IdempotencyStore
    scope: str
    key: str
    request_hash: str

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

    def start(self) -> StoredResponse | None:
        """The stored answer to replay, or None when this request owns the key and runs."""
        return self.store.start(self.scope, self.key, self.request_hash)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Release the key if the request fails, so the client may retry with it."""
        try:
            yield
        except Exception:
            self.store.abandon(self.scope, self.key)
            raise

    def finish(self, session: Session, status_code: int, body: dict[str, Any]) -> None:
        """Store the answer in the transaction that created what it describes."""
        self.store.finish(session, self.scope, self.key, status_code, body)
