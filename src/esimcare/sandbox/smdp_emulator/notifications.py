"""The SM-DP+ emulator's side of ES2+.HandleDownloadProgressInfo (SGP.22 v2.2 5.3.5).

A real SM-DP+ tells the operator how a download goes: point 1 (eligibility and retry-limit
check), 2 (confirmation-code failure), 3 (bound profile package downloaded), 4 (installed, or
failed) and custom points from 100 agreed between the two. The emulator uses two custom ones:
``deleted_point`` (default 102, the eUICC's delete notification) and ``disabled_point``
(default 101). A notification is best effort: a failure is logged, never raised, exactly as
a real SM-DP+ would not undo a download because the operator was unreachable.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from esimcare.integrations.errors import IntegrationError
from esimcare.integrations.http import send
from esimcare.integrations.smdp.interface import Es2Outcome, ExecutionStatus
from esimcare.integrations.smdp.messages import (
    JSON_HEADERS,
    NOTIFICATION_PATH,
    DownloadProgressInfo,
)
from esimcare.integrations.smdp.notification_signature import signature_headers
from esimcare.kit.clock import Clock, SystemClock
from esimcare.sandbox.smdp_emulator.support import ProfileSnapshot

_log = logging.getLogger("esimcare.integrations.smdp.notifications")

ELIGIBILITY_CHECKED = 1
CONFIRMATION_CODE_FAILED = 2
PACKAGE_DOWNLOADED = 3
INSTALLATION_RESULT = 4
DEFAULT_DISABLED_POINT = 101
DEFAULT_DELETED_POINT = 102
EXECUTED = Es2Outcome(ExecutionStatus.SUCCESS)


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification; shown to whoever drove the simulator."""

    point: int
    delivered: bool
    detail: str = ""

    def as_json(self) -> dict[str, object]:
        return {"point": self.point, "delivered": self.delivered, "detail": self.detail}


class NotificationSender:
    """Posts HandleDownloadProgressInfo to ``{receiver_url}/gsma/rsp2/es2plus/...``.

    ``receiver_url`` is one base URL, or a function choosing it per profile (None: nobody to
    tell), for an emulator shared by several operators as in the demo (e.g. by ICCID prefix).
    ``signing_key``: the emulator's shared secret (``notification_signature``); without it the
    notifications go unsigned, and a receiver that is not told otherwise refuses them.
    """

    def __init__(
        self,
        receiver_url: str | Callable[[ProfileSnapshot], str | None],
        requester_id: str,
        client: httpx.Client,
        *,
        clock: Clock | None = None,
        deleted_point: int = DEFAULT_DELETED_POINT,
        disabled_point: int = DEFAULT_DISABLED_POINT,
        signing_key: bytes | None = None,
    ) -> None:
        for point in (deleted_point, disabled_point):
            if point < 100:
                raise ValueError("custom notification points start at 100 (0-99 are reserved)")
        self._receiver = receiver_url
        self.requester_id = requester_id
        self.deleted_point = deleted_point
        self.disabled_point = disabled_point
        self._client = client
        self._clock = clock or SystemClock()
        self._signing_key = signing_key

    def notify(
        self, profile: ProfileSnapshot, point: int, status: Es2Outcome = EXECUTED
    ) -> Delivery:
        """Send one point about ``profile``; never raises for the receiver's failures."""
        info = DownloadProgressInfo(
            iccid=profile.iccid,
            profile_type=profile.profile_type,
            timestamp=self._clock.now(),
            point_id=point,
            point_status=status,
            eid=profile.eid,
        )
        url = self.url_for(profile)
        if url is None:
            return Delivery(point, delivered=False, detail="no receiver for this profile")
        body = json.dumps(info.body(self.requester_id, uuid.uuid4().hex)).encode()
        try:
            send(self._client, "POST", url, content=body, headers=self._headers(body))
        except IntegrationError as error:
            _log.warning("es2plus.notification_failed point=%s error=%s", point, error)
            return Delivery(point, delivered=False, detail=str(error))
        return Delivery(point, delivered=True)

    def _headers(self, body: bytes) -> dict[str, str]:
        if self._signing_key is None:
            return JSON_HEADERS
        return JSON_HEADERS | signature_headers(self._signing_key, body, self._clock.now())

    def url_for(self, profile: ProfileSnapshot) -> str | None:
        base = self._receiver if isinstance(self._receiver, str) else self._receiver(profile)
        return None if base is None else base.rstrip("/") + NOTIFICATION_PATH
