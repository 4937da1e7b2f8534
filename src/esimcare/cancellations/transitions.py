"""The one place a cancellation's status changes, always leaving a row that says who and why.

``move`` changes the ORM object (the session flushes it); ``advance`` is for the request's hot
path: one guarded UPDATE and one INSERT however many steps it moves, built once here.

The webhook outbox derives its events from the history rows a flush writes
(``webhooks/events.py``), so for an operator with webhooks (``watched``) the history still goes
in as ORM objects; for every other operator it is one Core INSERT, with nothing to flush.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus, can_transition
from esimcare.errors import InvalidTransitionError
from esimcare.esims.models import Esim
from esimcare.esims.states import EsimStatus, ProfileState, can_change_status
from esimcare.kit.orm_rows import table_of, written


def move(
    session: Session,
    cancellation: Cancellation,
    target: CancellationStatus,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    current = cancellation.status
    if not can_transition(current, target):
        raise InvalidTransitionError(f"a {current.value} cancellation cannot become {target.value}")
    cancellation.status = target
    session.add(
        CancellationTransition(
            cancellation_id=cancellation.id,
            from_status=current,
            to_status=target,
            actor=actor,
            note=note,
            at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class Move:
    """One step of ``advance``: to which status, who made it, and why."""

    target: CancellationStatus
    actor: str
    note: str | None = None


_CANCELLATIONS = table_of(Cancellation)
_TRANSITIONS = table_of(CancellationTransition)
_INSERT_TRANSITIONS = _TRANSITIONS.insert()
# The SET clause is the columns named at execution (the status and whatever comes along).
_MOVE_FROM = _CANCELLATIONS.update().where(
    _CANCELLATIONS.c.id == bindparam("moved_id"),
    _CANCELLATIONS.c.status == bindparam("moved_from", type_=_CANCELLATIONS.c.status.type),
)


def advance(
    session: Session,
    cancellation: Cancellation,
    moves: Sequence[Move],
    *,
    now: datetime,
    watched: bool,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Make ``moves`` in order, each checked against the transition table, writing ``changes``
    (other columns) with them. The UPDATE names the status it starts from, so a parallel change
    that came first is an InvalidTransitionError rather than a lost update."""
    current = cancellation.status
    rows = []
    for move_ in moves:
        if not can_transition(current, move_.target):
            raise InvalidTransitionError(
                f"a {current.value} cancellation cannot become {move_.target.value}"
            )
        rows.append({"cancellation_id": cancellation.id, "from_status": current,
                     "to_status": move_.target, "actor": move_.actor, "note": move_.note,
                     "at": now})  # fmt: skip
        current = move_.target
    values = {**(changes or {}), "status": current}
    result = session.connection().execute(
        _MOVE_FROM, {"moved_id": cancellation.id, "moved_from": cancellation.status, **values}
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise InvalidTransitionError("the cancellation changed meanwhile")
    written(cancellation, values)
    _add_history(session, rows, watched=watched)


def _add_history(session: Session, rows: list[dict[str, Any]], *, watched: bool) -> None:
    if watched:
        session.add_all([CancellationTransition(**row) for row in rows])
    else:
        session.connection().execute(_INSERT_TRANSITIONS, rows)


def move_esim(esim: Esim, target: EsimStatus) -> None:
    _check_esim_move(esim, target)
    esim.status = target


_ESIMS = table_of(Esim)
_SET_ESIM_STATUS = _ESIMS.update().where(_ESIMS.c.id == bindparam("moved_esim_id"))


def set_esim_status(
    session: Session, esim: Esim, target: EsimStatus, changes: Mapping[str, Any] | None = None
) -> None:
    """``move_esim`` written at once, with ``changes`` (other columns), in one prebuilt UPDATE
    instead of the next flush."""
    _check_esim_move(esim, target)
    values = {**(changes or {}), "status": target}
    session.connection().execute(_SET_ESIM_STATUS, {"moved_esim_id": esim.id, **values})
    written(esim, values)


_SET_ESIM_STATUS_READING_PROFILE = _SET_ESIM_STATUS.returning(_ESIMS.c.profile_state)


def set_esim_status_reading_profile(
    session: Session, esim: Esim, target: EsimStatus, changes: Mapping[str, Any] | None = None
) -> ProfileState:
    """``set_esim_status``, whose UPDATE also returns the profile state as it is now: the row
    is this transaction's from then on (locked on PostgreSQL, the write lock held on SQLite),
    so the state stays what it returned until commit."""
    _check_esim_move(esim, target)
    values = {**(changes or {}), "status": target}
    state = (
        session.connection()
        .execute(_SET_ESIM_STATUS_READING_PROFILE, {"moved_esim_id": esim.id, **values})
        .scalar_one()
    )
    profile = ProfileState(state)
    written(esim, {**values, "profile_state": profile})
    return profile


def _check_esim_move(esim: Esim, target: EsimStatus) -> None:
    if not can_change_status(esim.status, target):
        raise InvalidTransitionError(f"an {esim.status.value} eSIM cannot become {target.value}")


def record_start(
    session: Session,
    cancellation: Cancellation,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    watched: bool,
) -> None:
    """The first row of the history: the cancellation came into being in its initial status."""
    row = {"cancellation_id": cancellation.id, "from_status": None,
           "to_status": cancellation.status, "actor": actor, "note": note, "at": now}  # fmt: skip
    _add_history(session, [row], watched=watched)
