"""The SM-DP+ emulator's HTTP face: ES2+ as SGP.22 v2.2 section 5.3 binds it to HTTPS/JSON.

``create_emulator_app`` serves the four order functions on the spec's paths and, under
``/simulator/``, the phone simulator (``sandbox.phone``). It answers as a real SM-DP+:
HTTP 200 for success *and* for ``Failed``, ``X-Admin-Protocol: gsma/rsp/v2.5.0`` on every
reply, the functionCallIdentifier kept in the emulator's call history. It is strict, so the
client tested against it must be too. Where SGP.22 leaves the code to us:

- a body that is not a JSON object: HTTP 400 (there is no ES2+ header to answer with);
- header, functionRequesterIdentifier or functionCallIdentifier missing: 1.1 / 2.2
  (Function Requester, mandatory element missing); not a string: 1.1 / 2.1 (invalid);
- a mandatory data field missing: its subject code / 2.2; a field of the wrong JSON type:
  its subject code / 2.1. Subjects: iccid 8.2.1, eid 8.1.1, profileType 8.2.5, matchingId
  8.2.6, confirmationCode 8.2.7, smdsAddress 8.9; releaseFlag and finalProfileStatusIndicator
  have no subject of their own and use 8.2 (Profile);
- an injected fault (``SmdpEmulator.fail_next``): HTTP 503, which clients treat as transient.

Requests refused here never reach the emulator, so they are not in its call history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp.interface import (
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
    StatusCode,
)
from esimcare.integrations.smdp.messages import ADMIN_PROTOCOL, path, response_body
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.sandbox.http_support import BadRequestError, json_body, problem
from esimcare.sandbox.phone import simulator_routes
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.notifications import NotificationSender

__all__ = ["EMULATOR_MOUNT_PATH", "create_emulator_app", "mount_emulator"]

EMULATOR_MOUNT_PATH = "/smdp-emulator"
PROTOCOL_HEADERS = {"X-Admin-Protocol": ADMIN_PROTOCOL}

REQUESTER = "1.1"
ICCID = "8.2.1"
EID = "8.1.1"
PROFILE_TYPE = "8.2.5"
MATCHING_ID = "8.2.6"
CONFIRMATION_CODE = "8.2.7"
SMDS = "8.9"
PROFILE = "8.2"


class InvalidRequestError(Exception):
    """The request breaks the message format: answered ``Failed`` with ``code``."""

    def __init__(self, code: StatusCode) -> None:
        super().__init__(str(code))
        self.code = code


def missing(subject: str, name: str) -> InvalidRequestError:
    return InvalidRequestError(StatusCode(subject, "2.2", f"{name} missing"))


def invalid(subject: str, name: str) -> InvalidRequestError:
    return InvalidRequestError(StatusCode(subject, "2.1", f"{name} invalid"))


@dataclass(frozen=True)
class Es2Request:
    """One ES2+ request body, read strictly."""

    data: Mapping[str, Any]

    def call_id(self) -> str:
        """Check the RequestHeader and return its functionCallIdentifier."""
        header = self.data.get("header")
        if not isinstance(header, Mapping):
            raise missing(REQUESTER, "header")
        for name in ("functionRequesterIdentifier", "functionCallIdentifier"):
            value = header.get(name)
            if value is None or value == "":
                raise missing(REQUESTER, name)
            if not isinstance(value, str):
                raise invalid(REQUESTER, name)
        return str(header["functionCallIdentifier"])

    def text(self, name: str, subject: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(subject, name)
            return None
        if not isinstance(value, str):
            raise invalid(subject, name)
        return value

    def required(self, name: str, subject: str) -> str:
        return str(self.text(name, subject, required=True))

    def flag(self, name: str, subject: str) -> bool:
        value = self.data.get(name)
        if value is None:
            raise missing(subject, name)
        if not isinstance(value, bool):
            raise invalid(subject, name)
        return value

    def final_status(self) -> FinalProfileStatus:
        name = "finalProfileStatusIndicator"
        try:
            return FinalProfileStatus(self.required(name, PROFILE))
        except ValueError:
            raise invalid(PROFILE, name) from None


Handler = Callable[[Es2Request, str], Es2Outcome]


def _handlers(emulator: SmdpEmulator) -> dict[SmdpFunction, Handler]:
    """Each ES2+ function's inputs (SGP.22 v2.2 5.3.1 to 5.3.4), read and passed on."""

    def download_order(r: Es2Request, call_id: str) -> Es2Outcome:
        return emulator.download_order(
            iccid=r.text("iccid", ICCID),
            profile_type=r.text("profileType", PROFILE_TYPE),
            eid=r.text("eid", EID),
            function_call_id=call_id,
        )

    def confirm_order(r: Es2Request, call_id: str) -> Es2Outcome:
        return emulator.confirm_order(
            iccid=r.required("iccid", ICCID),
            release=r.flag("releaseFlag", PROFILE),
            eid=r.text("eid", EID),
            matching_id=r.text("matchingId", MATCHING_ID),
            confirmation_code=r.text("confirmationCode", CONFIRMATION_CODE),
            smds_address=r.text("smdsAddress", SMDS),
            function_call_id=call_id,
        )

    def cancel_order(r: Es2Request, call_id: str) -> Es2Outcome:
        return emulator.cancel_order(
            iccid=r.required("iccid", ICCID),
            final_status=r.final_status(),
            eid=r.text("eid", EID),
            matching_id=r.text("matchingId", MATCHING_ID),
            function_call_id=call_id,
        )

    def release_profile(r: Es2Request, call_id: str) -> Es2Outcome:
        return emulator.release_profile(iccid=r.required("iccid", ICCID), function_call_id=call_id)

    return {
        SmdpFunction.DOWNLOAD_ORDER: download_order,
        SmdpFunction.CONFIRM_ORDER: confirm_order,
        SmdpFunction.CANCEL_ORDER: cancel_order,
        SmdpFunction.RELEASE_PROFILE: release_profile,
    }


def _run(handler: Handler, data: Mapping[str, Any]) -> Es2Outcome:
    request = Es2Request(data)
    try:
        return handler(request, request.call_id())
    except InvalidRequestError as refused:
        return Es2Outcome(ExecutionStatus.FAILED, refused.code)


def _endpoint(handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        data = await json_body(request)
        try:
            outcome = await run_in_threadpool(_run, handler, data)
        except TransientIntegrationError as fault:
            return _with_protocol(problem(503, "unavailable", str(fault)))
        return JSONResponse(response_body(outcome), headers=PROTOCOL_HEADERS)

    return endpoint


def _with_protocol(response: Response) -> Response:
    response.headers.update(PROTOCOL_HEADERS)
    return response


async def _bad_request(_request: Request, exc: Exception) -> Response:
    return _with_protocol(problem(400, "bad-request", str(exc)))


def create_emulator_app(
    emulator: SmdpEmulator, *, notify: NotificationSender | None = None
) -> Starlette:
    """ES2+ on ``/gsma/rsp2/es2plus/*`` and the phone simulator on ``/simulator/*``.

    ``notify`` sends HandleDownloadProgressInfo (5.3.5) to the operator's receiver when the
    simulated phone downloads, installs, deletes or disables; without it none are sent.
    """
    routes = [
        Route(path(function), _endpoint(handler), methods=["POST"])
        for function, handler in _handlers(emulator).items()
    ]
    routes += simulator_routes(emulator, notify)
    return Starlette(routes=routes, exception_handlers={BadRequestError: _bad_request})


def mount_emulator(
    app: Starlette,
    emulator: SmdpEmulator,
    notify: NotificationSender | None = None,
    mount_path: str = EMULATOR_MOUNT_PATH,
) -> None:
    """Serve the emulator inside another app (the demo) under ``mount_path``."""
    app.mount(mount_path, create_emulator_app(emulator, notify=notify))
