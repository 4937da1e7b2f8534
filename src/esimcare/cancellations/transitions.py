"""The one place a cancellation's status changes, always leaving a row that says who and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus, can_transition
from esimcare.errors import InvalidTransitionError
from esimcare.esims.models import Esim
from esimcare.esims.states import EsimStatus, can_change_status


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


def move_esim(esim: Esim, target: EsimStatus) -> None:
    if not can_change_status(esim.status, target):
        raise InvalidTransitionError(f"an {esim.status.value} eSIM cannot become {target.value}")
    esim.status = target


def record_start(
    session: Session, cancellation: Cancellation, *, actor: str, now: datetime, note: str | None
) -> None:
    """The first row of the history: the cancellation came into being in its initial status."""
    session.add(
        CancellationTransition(
            cancellation_id=cancellation.id,
            from_status=None,
            to_status=cancellation.status,
            actor=actor,
            note=note,
            at=now,
        )
    )
