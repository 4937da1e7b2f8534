"""Why an order failed, as the API and the portal report it.

A definite ES2+ answer (``Failed`` with a subject/reason code) is 409 when the operator's stock
of the profile type is used up (8.2.5 / 3.7), else 422; both carry the SM-DP+ code. An
unreachable SM-DP+ (transport, 5xx, time-out) is 503 with Retry-After; a reply that is no ES2+
at all (a misconfigured URL) is 502.
"""

from __future__ import annotations

from dataclasses import dataclass

from esimcare.errors import DomainError
from esimcare.integrations.errors import IntegrationError, TransientIntegrationError
from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import Es2Outcome

RETRY_AFTER_S = 30


@dataclass(frozen=True)
class OrderFailure:
    status: int
    code: str
    detail: str
    smdp_code: str | None = None

    def describe(self) -> str:
        return f"{self.code}: {self.detail}" + (f" ({self.smdp_code})" if self.smdp_code else "")


class SmdpOrderFailedError(DomainError):
    """Carries its status and code per failure (one class, rendered by the one handler)."""

    def __init__(self, failure: OrderFailure) -> None:
        extra: dict[str, object] = {}
        if failure.smdp_code:
            extra["smdp_code"] = failure.smdp_code
        if failure.status == 503:
            extra["retry_after"] = RETRY_AFTER_S
        super().__init__(failure.detail, **extra)
        self.failure = failure
        self.status = failure.status  # type: ignore[misc]
        self.code = failure.code  # type: ignore[misc]
        self.title = _TITLES[failure.code]  # type: ignore[misc]


_TITLES = {
    "smdp-out-of-stock": "The SM-DP+ has no profile of this plan's type left",
    "smdp-refused": "The SM-DP+ refused the order",
    "smdp-unavailable": "The SM-DP+ cannot be reached right now; try again shortly",
    "smdp-bad-gateway": "The SM-DP+ answered with something that is not ES2+",
}


def failure_for(cause: Es2Outcome | IntegrationError) -> OrderFailure:
    if isinstance(cause, TransientIntegrationError):
        return OrderFailure(503, "smdp-unavailable", str(cause))
    if isinstance(cause, IntegrationError):
        return OrderFailure(502, "smdp-bad-gateway", str(cause))
    code = cause.code
    text = f"{code.subject}/{code.reason}" if code else None
    detail = (code.message if code and code.message else None) or f"ES2+ status {cause.status}"
    if cause.is_code(codes.PROFILE_TYPE_EXHAUSTED):
        return OrderFailure(409, "smdp-out-of-stock", detail, text)
    return OrderFailure(422, "smdp-refused", detail, text)
