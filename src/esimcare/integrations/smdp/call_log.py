"""Every ES2+ call esimcare makes, written before it is sent and again when it ends.

A row whose ``outcome`` is still empty is a call that was sent (or about to be) and never
answered in this process: a crash, or a time-out the caller has not yet retried. Reconciling
such calls needs exactly this record, so each write is its own short transaction on esimcare's
main database and survives the caller's rollback. The functionCallIdentifier (SGP.22 v2.2
section 6, JSON binding) is a random UUID, unique across processes and restarts.

A caller that commits before and after the call anyway (the cancellation workflow) can have
both writes ride in those transactions instead (``started_in``, ``EndToWrite``): the row then
commits before the call is sent, as ever, and its end with what the caller records of the
answer; should that record roll back, the end is written on its own (``write_alone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Integer, String, Table, bindparam, func, insert, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from esimcare.db import Base, UtcDateTime, enum_type, transaction
from esimcare.integrations.smdp.interface import Es2Outcome, ExecutionStatus
from esimcare.integrations.smdp.states import SmdpFunction

_SECRET_FIELDS = frozenset({"confirmationCode"})
_MESSAGE_LENGTH = 500


class CallOutcome(StrEnum):
    SUCCESS = "success"  # Executed-Success or Executed-WithWarning
    FAILED = "failed"  # a definite ES2+ answer: Failed or Expired, with its code
    TRANSIENT = "transient"  # network, time-out, 5xx: the same call may be retried
    PERMANENT = "permanent"  # a reply that is no ES2+ answer at all (misconfiguration)


class Es2PlusCall(Base):
    """One ES2+ function call to an operator's SM-DP+ (SGP.22 v2.2 5.3.1 to 5.3.4)."""

    __tablename__ = "es2plus_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: like the audit trail, the log must accept a call for any configured tenant.
    operator_id: Mapped[str] = mapped_column(String(32), index=True)
    function: Mapped[SmdpFunction] = mapped_column(enum_type(SmdpFunction))
    function_call_id: Mapped[str] = mapped_column(String(64), unique=True)
    iccid: Mapped[str | None] = mapped_column(String(20), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_type(CallOutcome))
    status: Mapped[ExecutionStatus | None] = mapped_column(enum_type(ExecutionStatus))
    subject_code: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(String(_MESSAGE_LENGTH))
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class CallEnd:
    """How a call ended, as the client saw it."""

    outcome: CallOutcome
    finished_at: datetime
    duration_ms: int
    es2: Es2Outcome | None = None
    http_status: int | None = None
    response: dict[str, Any] | None = None
    message: str | None = None


class CallLog:
    """Writes ``es2plus_calls`` rows, each in its own transaction.

    On SQLite the caller must not hold a write transaction on the same database while it
    calls the SM-DP+ (it should not anyway: side effects happen after commit), or this
    writer waits for that lock.
    """

    def __init__(self, sessions: sessionmaker[Session], operator_id: str) -> None:
        self._sessions = sessions
        self._operator_id = operator_id

    def started(
        self,
        function: SmdpFunction,
        call_id: str,
        request: dict[str, Any],
        sent_at: datetime,
    ) -> int:
        with transaction(self._sessions) as session:
            return self.started_in(session, function, call_id, request, sent_at)

    def started_in(
        self,
        session: Session,
        function: SmdpFunction,
        call_id: str,
        request: dict[str, Any],
        sent_at: datetime,
    ) -> int:
        """``started`` in the caller's transaction, which must commit before the call is sent."""
        iccid = request.get("iccid")
        row = {
            "operator_id": self._operator_id,
            "function": function,
            "function_call_id": call_id,
            "iccid": iccid if isinstance(iccid, str) else None,
            "request": redacted(request),
            "sent_at": sent_at,
        }
        record_id: int = session.execute(_START, row).scalar_one()
        return record_id

    def finished(self, record_id: int, end: CallEnd) -> None:
        """One UPDATE of the row ``started`` wrote (no read first)."""
        with transaction(self._sessions) as session:
            self.finished_in(session, record_id, end)

    @staticmethod
    def finished_in(session: Session, record_id: int, end: CallEnd) -> None:
        """``finished`` in the caller's transaction."""
        values = _end_values(end) | {"record_id": record_id}
        returned = end.es2.data.get("iccid") if end.es2 is not None else None
        if returned:
            values["returned"] = returned
        result = session.execute(_FINISH_WITH_ICCID if returned else _FINISH, values)
        if cast("CursorResult[Any]", result).rowcount != 1:
            raise LookupError(f"es2plus_calls row {record_id} vanished")


@dataclass(frozen=True)
class EndToWrite:
    """How a call ended, for the caller to write with what it records of the answer."""

    log: CallLog
    record_id: int
    end: CallEnd

    def write_in(self, session: Session) -> None:
        self.log.finished_in(session, self.record_id, self.end)

    def write_alone(self) -> None:
        """For when the caller's transaction did not commit: the end still must be kept."""
        self.log.finished(self.record_id, self.end)


_CALLS = cast(Table, Es2PlusCall.__table__)
_START = insert(_CALLS).returning(_CALLS.c.id)
# The columns set are the parameters' (``_end_values``).
_FINISH = update(_CALLS).where(_CALLS.c.id == bindparam("record_id"))
# DownloadOrder by profile type: the profile is known only now (kept if it was known).
_FINISH_WITH_ICCID = _FINISH.values(iccid=func.coalesce(_CALLS.c.iccid, bindparam("returned")))


def _end_values(end: CallEnd) -> dict[str, Any]:
    code = end.es2.code if end.es2 is not None else None
    text = end.message or (code.message if code else None)
    values: dict[str, Any] = {
        "outcome": end.outcome,
        "finished_at": end.finished_at,
        "duration_ms": end.duration_ms,
        "http_status": end.http_status,
        "response": end.response,
        "status": end.es2.status if end.es2 is not None else None,
        "subject_code": code.subject if code else None,
        "reason_code": code.reason if code else None,
        "message": text[:_MESSAGE_LENGTH] if text else None,
    }
    return values


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """The body without secrets: a confirmation code must never sit in a log table."""
    return {key: "***" if key in _SECRET_FIELDS else value for key, value in body.items()}
