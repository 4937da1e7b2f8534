"""``esimcare audit verify`` and the console's "verify chain" button: one check, one answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from esimcare.audit.service import CHAIN_TRUNCATED, record, verify_chain


@dataclass(frozen=True)
class ChainVerdict:
    operator_id: str
    first_broken_id: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None

    def describe(self) -> str:
        if self.first_broken_id is None:
            return f"{self.operator_id}: audit chain intact"
        if self.first_broken_id == CHAIN_TRUNCATED:
            return f"{self.operator_id}: audit chain BROKEN: its newest rows were removed"
        return f"{self.operator_id}: audit chain BROKEN at row {self.first_broken_id}"


def check_chain(session: Session, operator_id: str) -> ChainVerdict:
    return ChainVerdict(operator_id, verify_chain(session, operator_id))


def record_check(session: Session, verdict: ChainVerdict, *, actor: str, now: datetime) -> None:
    """Who checked and what they found, appended after the check (so it never checks itself)."""
    record(
        session,
        operator_id=verdict.operator_id,
        actor=actor,
        action="ops.audit.verify",
        subject=f"operator:{verdict.operator_id}",
        at=now,
        data={"intact": verdict.intact, "first_broken_id": verdict.first_broken_id},
    )
