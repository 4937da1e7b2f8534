"""The ES2+ agreement between one operator and its SM-DP+, from ``[operators.X.smdp]``.

The connection itself (URL, our functionRequesterIdentifier, client certificate, CA, time-outs)
is read by ``integrations.smdp.client_config.Es2PlusConfig``; this module reads what the
operator's side of HandleDownloadProgressInfo (SGP.22 v2.2 5.3.5) needs: whom we accept
notifications from (``notification_cert_names``: the names its TLS client certificate must
carry, the proof; ``notification_requester_id``: the label in the body, checked second), and
which custom notification points (100 and above, by agreement) mean "deleted on the phone" and
"disabled on the phone", and which CancelOrder refusals mean "the profile is already on a phone:
have it deleted there" (``delete_on_device_codes``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from esimcare.integrations.smdp.interface import (
    INVALID_STATE_TRANSITION,
    PROFILE_ALREADY_DOWNLOADED,
    StatusCode,
)

DEFAULT_DELETED_POINT = 102
DEFAULT_DISABLED_POINT = 101
FIRST_CUSTOM_POINT = 100
# SGP.22 v2.2 5.3.3: CancelOrder on a Downloaded or Installed profile is refused with 8.2.1/3.3;
# 8.2.1/3.5 says the profile is in no order state any more. Either way it is out of the SM-DP+'s
# hands, and the subscriber deletes it on the phone.
DEFAULT_DELETE_ON_DEVICE_CODES = (PROFILE_ALREADY_DOWNLOADED, INVALID_STATE_TRANSITION)
_CODE_PART = re.compile(r"\d+(\.\d+)*")


@dataclass(frozen=True)
class SmdpLink:
    url: str | None = None
    notification_requester_id: str | None = None
    deleted_point: int = DEFAULT_DELETED_POINT
    disabled_point: int = DEFAULT_DISABLED_POINT
    smdp_address: str | None = None
    # A DNS name in the certificate's subjectAltName, or its subject CN; any one will do.
    notification_cert_names: tuple[str, ...] = ()
    # CancelOrder answers after which the profile is deleted on the phone instead of failing
    # the cancellation (each SM-DP+ words "already downloaded/installed" its own way).
    delete_on_device_codes: tuple[StatusCode, ...] = DEFAULT_DELETE_ON_DEVICE_CODES

    def __post_init__(self) -> None:
        for name in ("deleted_point", "disabled_point"):
            if getattr(self, name) < FIRST_CUSTOM_POINT:
                raise ValueError(f"smdp.{name} must be a custom point (100 or above)")
        if self.deleted_point == self.disabled_point:
            raise ValueError("smdp.deleted_point and smdp.disabled_point must differ")
        if self.url and not self.notification_requester_id:
            raise ValueError(
                "smdp.notification_requester_id is required with smdp.url: it names the "
                "SM-DP+ whose HandleDownloadProgressInfo notifications we accept"
            )

    @property
    def external(self) -> bool:
        """True when a real SM-DP+ (ES2+ over HTTPS) serves this operator."""
        return bool(self.url)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SmdpLink:
        url = raw.get("url")
        requester = raw.get("notification_requester_id")
        address = raw.get("smdp_address")
        return cls(
            notification_cert_names=_names(raw.get("notification_cert_names")),
            url=str(url) if url else None,
            notification_requester_id=str(requester) if requester else None,
            deleted_point=int(raw.get("deleted_point", DEFAULT_DELETED_POINT)),
            disabled_point=int(raw.get("disabled_point", DEFAULT_DISABLED_POINT)),
            smdp_address=str(address) if address else None,
            delete_on_device_codes=_codes(raw.get("delete_on_device_codes")),
        )

    def means_delete_on_device(self, code: StatusCode | None) -> bool:
        return code is not None and any(
            (code.subject, code.reason) == (known.subject, known.reason)
            for known in self.delete_on_device_codes
        )


def _codes(raw: object) -> tuple[StatusCode, ...]:
    """``["8.2.1/3.3", "8.2.1/3.5"]`` (subject code / reason code); absent: the defaults."""
    if raw is None:
        return DEFAULT_DELETE_ON_DEVICE_CODES
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError('smdp.delete_on_device_codes must be a list like ["8.2.1/3.3"]')
    return tuple(_code(item) for item in raw)


def _code(text: str) -> StatusCode:
    subject, _, reason = (part.strip() for part in text.partition("/"))
    if not _CODE_PART.fullmatch(subject) or not _CODE_PART.fullmatch(reason):
        raise ValueError(
            f"smdp.delete_on_device_codes: {text!r} is no subject/reason code like 8.2.1/3.3"
        )
    return StatusCode(subject, reason)


def _names(raw: object) -> tuple[str, ...]:
    """A name or a list of names, as written in the operators file."""
    if raw is None or raw == "":
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise ValueError("smdp.notification_cert_names must be a name or a list of names")
    return tuple(item.strip().lower() for item in items)
