"""The operator side of ES2+ (GSMA SGP.22 v2.2 section 5.3) as the workflow sees it.

Every function returns an ``Es2Outcome``: success, or a definite ``Failed`` answer with its
subject and reason codes (which the workflow acts on and never blindly retries). Transport
errors, 5xx and time-outs raise TransientIntegrationError instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class FinalProfileStatus(StrEnum):
    """CancelOrder's finalProfileStatusIndicator."""

    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"


class ExecutionStatus(StrEnum):
    SUCCESS = "Executed-Success"
    WARNING = "Executed-WithWarning"
    FAILED = "Failed"
    EXPIRED = "Expired"


@dataclass(frozen=True)
class StatusCode:
    subject: str
    reason: str
    message: str = ""

    def __str__(self) -> str:
        return f"{self.subject} / {self.reason}"


# The codes of es2plus.md that the workflow branches on.
ICCID_UNKNOWN = StatusCode("8.2.1", "3.9")
PROFILE_ALREADY_DOWNLOADED = StatusCode("8.2.1", "3.3")
INVALID_STATE_TRANSITION = StatusCode("8.2.1", "3.5")


@dataclass(frozen=True)
class Es2Outcome:
    status: ExecutionStatus
    code: StatusCode | None = None
    data: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status in (ExecutionStatus.SUCCESS, ExecutionStatus.WARNING)

    def is_code(self, code: StatusCode) -> bool:
        return self.code is not None and (self.code.subject, self.code.reason) == (
            code.subject,
            code.reason,
        )


class SmdpGateway(Protocol):
    def download_order(
        self, *, iccid: str | None = None, profile_type: str | None = None, eid: str | None = None
    ) -> Es2Outcome:
        """On success ``data["iccid"]`` names the allocated profile."""
        ...

    def confirm_order(
        self,
        *,
        iccid: str,
        release: bool,
        eid: str | None = None,
        matching_id: str | None = None,
        confirmation_code: str | None = None,
    ) -> Es2Outcome:
        """On success ``data["matchingId"]`` and ``data["smdpAddress"]``."""
        ...

    def cancel_order(
        self,
        *,
        iccid: str,
        final_status: FinalProfileStatus,
        eid: str | None = None,
        matching_id: str | None = None,
    ) -> Es2Outcome: ...

    def release_profile(self, *, iccid: str) -> Es2Outcome: ...
