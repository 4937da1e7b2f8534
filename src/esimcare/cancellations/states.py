"""Cancellation statuses and steps, with the only transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class CancellationStatus(StrEnum):
    AWAITING_VERIFICATION = "awaiting_verification"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNDONE = "undone"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]


OPEN_STATUSES = frozenset(
    {
        CancellationStatus.AWAITING_VERIFICATION,
        CancellationStatus.SCHEDULED,
        CancellationStatus.PROCESSING,
        CancellationStatus.FAILED,
    }
)

TRANSITIONS: dict[CancellationStatus, frozenset[CancellationStatus]] = {
    CancellationStatus.AWAITING_VERIFICATION: frozenset(
        {CancellationStatus.SCHEDULED, CancellationStatus.EXPIRED}
    ),
    CancellationStatus.SCHEDULED: frozenset(
        {CancellationStatus.PROCESSING, CancellationStatus.UNDONE}
    ),
    CancellationStatus.PROCESSING: frozenset(
        {CancellationStatus.COMPLETED, CancellationStatus.FAILED}
    ),
    # A failed cancellation stays open: staff retry it once the cause is fixed.
    CancellationStatus.FAILED: frozenset({CancellationStatus.PROCESSING}),
    CancellationStatus.COMPLETED: frozenset(),
    CancellationStatus.UNDONE: frozenset(),
    CancellationStatus.EXPIRED: frozenset(),
}


def can_transition(current: CancellationStatus, target: CancellationStatus) -> bool:
    return target in TRANSITIONS[current]


class StepName(StrEnum):
    """The workflow, in order: money first, then profile and network, refund, notice."""

    FINAL_BILL = "final_bill"
    PROFILE = "profile"
    NETWORK = "network"
    REFUND = "refund"
    NOTICE = "notice"


STEP_ORDER: tuple[StepName, ...] = tuple(StepName)


def next_step(step: StepName) -> StepName | None:
    index = STEP_ORDER.index(step)
    return STEP_ORDER[index + 1] if index + 1 < len(STEP_ORDER) else None


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
