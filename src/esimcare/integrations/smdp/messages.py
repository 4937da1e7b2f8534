"""ES2+ messages as JSON (GSMA SGP.22 v2.2 sections 5.3.1 to 5.3.5; section 6 for the binding).

One frozen class per order function says which fields it sends; building a request body is
strict (only the spec's field names, absent optional fields omitted, ICCIDs without ``F``
padding), while reading a response is liberal (extra fields ignored, padded ICCIDs accepted).
The client, the emulator's HTTP face and the notification sender all speak through here, so
the wire format is written down once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from esimcare.integrations.smdp.interface import (
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
    StatusCode,
)
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.kit.clock import as_utc
from esimcare.kit.ids import Eid, InvalidIdentifierError

ADMIN_PROTOCOL = "gsma/rsp/v2.5.0"
"""The X-Admin-Protocol we send: the highest ES2+ version we speak (SGP.22 v2.2 section 6)."""
ADMIN_PROTOCOL_FAMILY = "gsma/rsp/v2."
_ADMIN_PROTOCOL_FORMAT = re.compile(r"gsma/rsp/v(\d+)\.\d+\.\d+")
PATH_PREFIX = "/gsma/rsp2/es2plus/"
JSON_HEADERS = {"Content-Type": "application/json", "X-Admin-Protocol": ADMIN_PROTOCOL}

# The last segment of each function's path (SGP.22 v2.2 section 6).
PATHS: Mapping[SmdpFunction, str] = {
    SmdpFunction.DOWNLOAD_ORDER: "downloadOrder",
    SmdpFunction.CONFIRM_ORDER: "confirmOrder",
    SmdpFunction.CANCEL_ORDER: "cancelOrder",
    SmdpFunction.RELEASE_PROFILE: "releaseProfile",
}
NOTIFICATION_PATH = PATH_PREFIX + "handleDownloadProgressInfo"

# The response fields the workflow reads, besides the header (all strings).
_OUTPUT_FIELDS = ("iccid", "eid", "matchingId", "smdpAddress")


class MalformedMessageError(ValueError):
    """A body that is not an ES2+ message: the peer is no SM-DP+, or badly broken."""


def path(function: SmdpFunction) -> str:
    return PATH_PREFIX + PATHS[function]


def wire_iccid(raw: str) -> str:
    """The ICCID on the wire: 19 or 20 digits, never ``F``-padded (SGP.22 v2.2 5.3).

    The Luhn digit is not checked here: an ICCID the SM-DP+ handed out must be usable in the
    next call even if its vendor got the check digit wrong (``Iccid`` checks it at our edge).
    """
    text = raw.strip()
    if len(text) == 20 and text[-1] in "Ff":
        text = text[:-1]
    if not text.isdigit() or len(text) not in (19, 20):
        raise InvalidIdentifierError(f"an ICCID has 19 or 20 digits, not {raw!r}")
    return text


def padded_iccid(raw: str) -> str:
    """The 20-character form some SM-DP+s want: a 19-digit ICCID with its ``F`` filler (the
    way the ICCID is stored on the card). Same profile either way (SGP.22 v2.2 5.3)."""
    text = wire_iccid(raw)
    return text + "F" if len(text) == 19 else text


def check_admin_protocol(version: str) -> str:
    """``gsma/rsp/vX.Y.Z``, as X-Admin-Protocol carries it (SGP.22 v2.2 section 6)."""
    if _ADMIN_PROTOCOL_FORMAT.fullmatch(version) is None:
        raise ValueError(f"X-Admin-Protocol must look like {ADMIN_PROTOCOL!r}, not {version!r}")
    return version


def admin_protocol_family(version: str) -> str:
    """The major version a reply must share with what we send: ``gsma/rsp/v2.``."""
    return (
        "gsma/rsp/v" + check_admin_protocol(version).removeprefix("gsma/rsp/v").split(".")[0] + "."
    )


def request_headers(admin_protocol: str = ADMIN_PROTOCOL) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Admin-Protocol": admin_protocol}


def wire_eid(raw: str | None) -> str | None:
    return None if raw is None else Eid.parse(raw).value


@dataclass(frozen=True)
class DownloadOrder:
    """ES2+.DownloadOrder (SGP.22 v2.2 5.3.1): eid O, iccid C, profileType C."""

    function: ClassVar[SmdpFunction] = SmdpFunction.DOWNLOAD_ORDER
    iccid: str | None = None
    profile_type: str | None = None
    eid: str | None = None

    def fields(self) -> dict[str, object]:
        if self.iccid is None and self.profile_type is None:
            raise ValueError("DownloadOrder needs an iccid or a profileType (5.3.1)")
        return _present(
            eid=wire_eid(self.eid),
            iccid=None if self.iccid is None else wire_iccid(self.iccid),
            profileType=self.profile_type,
        )


@dataclass(frozen=True)
class ConfirmOrder:
    """ES2+.ConfirmOrder (SGP.22 v2.2 5.3.2): iccid M, releaseFlag M, the rest optional."""

    function: ClassVar[SmdpFunction] = SmdpFunction.CONFIRM_ORDER
    iccid: str
    release: bool
    eid: str | None = None
    matching_id: str | None = None
    confirmation_code: str | None = None
    smds_address: str | None = None

    def fields(self) -> dict[str, object]:
        return _present(
            iccid=wire_iccid(self.iccid),
            eid=wire_eid(self.eid),
            matchingId=self.matching_id,
            confirmationCode=self.confirmation_code,
            smdsAddress=self.smds_address,
            releaseFlag=self.release,
        )


@dataclass(frozen=True)
class CancelOrder:
    """ES2+.CancelOrder (SGP.22 v2.2 5.3.3): iccid M, finalProfileStatusIndicator M."""

    function: ClassVar[SmdpFunction] = SmdpFunction.CANCEL_ORDER
    iccid: str
    final_status: FinalProfileStatus
    eid: str | None = None
    matching_id: str | None = None

    def fields(self) -> dict[str, object]:
        return _present(
            iccid=wire_iccid(self.iccid),
            eid=wire_eid(self.eid),
            matchingId=self.matching_id,
            finalProfileStatusIndicator=self.final_status.value,
        )


@dataclass(frozen=True)
class ReleaseProfile:
    """ES2+.ReleaseProfile (SGP.22 v2.2 5.3.4): iccid M."""

    function: ClassVar[SmdpFunction] = SmdpFunction.RELEASE_PROFILE
    iccid: str

    def fields(self) -> dict[str, object]:
        return {"iccid": wire_iccid(self.iccid)}


OrderMessage = DownloadOrder | ConfirmOrder | CancelOrder | ReleaseProfile

# Outputs a successful answer must carry, or the workflow cannot go on (5.3.1, 5.3.2).
REQUIRED_OUTPUTS: Mapping[SmdpFunction, tuple[str, ...]] = {
    SmdpFunction.DOWNLOAD_ORDER: ("iccid",),
    SmdpFunction.CONFIRM_ORDER: ("matchingId",),
}


def request_header(requester_id: str, call_id: str) -> dict[str, str]:
    """The RequestHeader of every ES2+ function (SGP.22 v2.2 section 6, JSON binding)."""
    return {"functionRequesterIdentifier": requester_id, "functionCallIdentifier": call_id}


def request_body(
    message: OrderMessage, requester_id: str, call_id: str, *, pad_iccid: bool = False
) -> dict[str, object]:
    """The request; ``pad_iccid`` for an SM-DP+ that wants 20-character ICCIDs."""
    fields = message.fields()
    if pad_iccid and isinstance(fields.get("iccid"), str):
        fields["iccid"] = padded_iccid(str(fields["iccid"]))
    return {"header": request_header(requester_id, call_id), **fields}


def execution_status(outcome: Es2Outcome) -> dict[str, object]:
    """A FunctionExecutionStatus object (SGP.22 v2.2 section 6, JSON binding)."""
    status: dict[str, object] = {"status": outcome.status.value}
    if outcome.code is not None:
        code_data = {"subjectCode": outcome.code.subject, "reasonCode": outcome.code.reason}
        if outcome.code.message:
            code_data["message"] = outcome.code.message
        status["statusCodeData"] = code_data
    return status


def response_body(outcome: Es2Outcome) -> dict[str, object]:
    """What an SM-DP+ answers: the header plus, on success, the function's output fields."""
    body: dict[str, object] = {"header": {"functionExecutionStatus": execution_status(outcome)}}
    if outcome.succeeded:  # ES2+ outputs only: an emulator's extras stay off the wire
        body.update((k, v) for k, v in outcome.data.items() if k in _OUTPUT_FIELDS)
    return body


def parse_response(data: object) -> Es2Outcome:
    """Read an ES2+ response liberally; raise MalformedMessageError if it is none at all."""
    if not isinstance(data, Mapping):
        raise MalformedMessageError("the body is not a JSON object")
    header = data.get("header")
    status = header.get("functionExecutionStatus") if isinstance(header, Mapping) else None
    if not isinstance(status, Mapping):
        raise MalformedMessageError("no header.functionExecutionStatus")
    try:
        execution = ExecutionStatus(str(status.get("status")))
    except ValueError:
        raise MalformedMessageError(f"unknown status {status.get('status')!r}") from None
    return Es2Outcome(execution, _status_code(status.get("statusCodeData")), _outputs(data))


def _status_code(raw: object) -> StatusCode | None:
    if not isinstance(raw, Mapping):
        return None
    subject, reason = raw.get("subjectCode"), raw.get("reasonCode")
    if subject is None or reason is None:
        return None
    message = raw.get("message")
    return StatusCode(str(subject), str(reason), message if isinstance(message, str) else "")


def _outputs(data: Mapping[str, Any]) -> dict[str, str]:
    outputs = {name: data[name] for name in _OUTPUT_FIELDS if isinstance(data.get(name), str)}
    if "iccid" in outputs:
        try:
            outputs["iccid"] = wire_iccid(outputs["iccid"])  # a padded one is the same
        except InvalidIdentifierError:
            raise MalformedMessageError(f"invalid iccid {outputs['iccid']!r}") from None
    return outputs


def es2_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``, the ES2+ time format in UTC (SGP.22 v2.2 5.3.5)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DownloadProgressInfo:
    """ES2+.HandleDownloadProgressInfo (SGP.22 v2.2 5.3.5), sent by the SM-DP+.

    ``point_id`` 1 to 4 are the spec's notification points; 100 and above are custom ones
    agreed with the operator (esimcare's emulator uses them for "deleted" and "disabled").
    """

    iccid: str
    profile_type: str
    timestamp: datetime
    point_id: int
    point_status: Es2Outcome
    eid: str | None = None
    result_data: str | None = None  # base64, for point 4 when the eUICC sent a result

    def body(self, requester_id: str, call_id: str) -> dict[str, object]:
        return {
            "header": request_header(requester_id, call_id),
            **_present(
                eid=self.eid,
                iccid=wire_iccid(self.iccid),
                profileType=self.profile_type,
                timestamp=es2_timestamp(self.timestamp),
                notificationPointId=self.point_id,
                notificationPointStatus=execution_status(self.point_status),
                resultData=self.result_data,
            ),
        }


def _present(**fields: object) -> dict[str, object]:
    """Strict sending: an absent optional field is left out, never sent as null."""
    return {name: value for name, value in fields.items() if value is not None}
