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

    def bar(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState: ...

    def remove(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState: ...

    def state(self, *, imsi: str) -> SubscriberState: ...
