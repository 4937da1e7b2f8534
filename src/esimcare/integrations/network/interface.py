"""The operator's network provisioning (HSS/HLR): what cancellation needs of it."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class SubscriberState(StrEnum):
    ACTIVE = "active"
    BARRED = "barred"
    REMOVED = "removed"
    UNKNOWN = "unknown"


class NetworkGateway(Protocol):
    """Each call is idempotent: barring a barred subscriber or removing a removed one succeeds.

    Raises TransientIntegrationError (retry later) or PermanentIntegrationError (definite refusal).
    """

    def provision(self, *, imsi: str, msisdn: str) -> SubscriberState:
        """Add an active subscriber for a newly ordered line.

        Again with the same MSISDN it changes nothing (never reactivates a barred subscriber);
        for another MSISDN it is refused with code ``imsi-in-use``.
        """
        ...

    def bar(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState: ...

    def remove(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState: ...

    def state(self, *, imsi: str) -> SubscriberState: ...
