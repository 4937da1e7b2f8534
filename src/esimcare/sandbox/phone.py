"""PHONE SIMULATOR endpoints of the SM-DP+ emulator: what a phone's LPA would do over ES9+.

No real phone talks to these: ``esimcare phone install|delete|disable`` (the phone simulator
CLI) and tests do. Each call drives the emulator's device side and then sends the
HandleDownloadProgressInfo points a real SM-DP+ would (SGP.22 v2.2 5.3.5):

- ``POST /simulator/download`` ``{activationCode, eid, confirmationCode?}``: points 1 and 3;
- ``POST /simulator/install`` ``{iccid, success?}``: point 4, ``Executed-Success`` or
  ``Failed`` with 8.2 / 4.2 (the eUICC could not install the profile);
- ``POST /simulator/delete`` ``{iccid}``: the custom "deleted" point (default 102);
- ``POST /simulator/disable`` ``{iccid}``: the custom "disabled" point (default 101);
- ``GET /simulator/profiles/{iccid}``: the profile as the emulator holds it.

Answers: 200 ``{"iccid", "state", "notifications": [{"point", "delivered", "detail"}]}``;
a refusal by the SM-DP+ is 409 problem+json whose ``code`` is ``subject/reason``; a
malformed body is 400; an unknown profile 404. Notification failures never fail the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from esimcare.integrations.smdp import codes
from esimcare.integrations.smdp.interface import Es2Outcome, ExecutionStatus, StatusCode
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.sandbox.http_support import BadRequestError, json_body, problem, text_field
from esimcare.sandbox.smdp_emulator.emulator import DeviceRefusedError, SmdpEmulator
from esimcare.sandbox.smdp_emulator.notifications import (
    ELIGIBILITY_CHECKED,
    INSTALLATION_RESULT,
    PACKAGE_DOWNLOADED,
    Delivery,
    NotificationSender,
)
from esimcare.sandbox.smdp_emulator.support import ProfileSnapshot

INSTALL_FAILED = StatusCode("8.2", "4.2", "the eUICC could not install the profile")

_Action = Callable[[Mapping[str, Any]], tuple[ProfileSnapshot, list[int], Es2Outcome]]
_DONE = Es2Outcome(ExecutionStatus.SUCCESS)


class _Simulator:
    """The phone's actions; each returns the profile and the points to notify."""

    def __init__(self, emulator: SmdpEmulator, notify: NotificationSender | None) -> None:
        self.emulator = emulator
        self.notify = notify

    def download(self, data: Mapping[str, Any]) -> tuple[ProfileSnapshot, list[int], Es2Outcome]:
        code = data.get("confirmationCode")
        if code is not None and not isinstance(code, str):
            raise BadRequestError("'confirmationCode' must be a string")
        iccid = self.emulator.download(
            text_field(data, "activationCode"), text_field(data, "eid"), code
        )
        return self._snapshot(iccid), [ELIGIBILITY_CHECKED, PACKAGE_DOWNLOADED], _DONE

    def install(self, data: Mapping[str, Any]) -> tuple[ProfileSnapshot, list[int], Es2Outcome]:
        success = data.get("success", True)
        if not isinstance(success, bool):
            raise BadRequestError("'success' must be true or false")
        profile = self.emulator.install_result(text_field(data, "iccid"), success)
        status = _DONE if success else Es2Outcome(ExecutionStatus.FAILED, INSTALL_FAILED)
        return profile, [INSTALLATION_RESULT], status

    def delete(self, data: Mapping[str, Any]) -> tuple[ProfileSnapshot, list[int], Es2Outcome]:
        profile = self.emulator.delete_on_device(text_field(data, "iccid"))
        return profile, self._custom("deleted_point"), _DONE

    def disable(self, data: Mapping[str, Any]) -> tuple[ProfileSnapshot, list[int], Es2Outcome]:
        # The SM-DP+ does not track enabled/disabled; only an installed profile can be.
        profile = self._snapshot(text_field(data, "iccid"))
        if profile.state is not SmdpProfileState.INSTALLED or profile.deleted_on_device_at:
            raise DeviceRefusedError(codes.INVALID_STATE_TRANSITION)
        return profile, self._custom("disabled_point"), _DONE

    def _custom(self, which: str) -> list[int]:
        return [] if self.notify is None else [int(getattr(self.notify, which))]

    def _snapshot(self, iccid: str) -> ProfileSnapshot:
        profile = self.emulator.profile(iccid)
        if profile is None:
            raise DeviceRefusedError(codes.ICCID_UNKNOWN)
        return profile

    def perform(self, action: _Action, data: Mapping[str, Any]) -> dict[str, object]:
        """Run one action, then send its notifications (after the emulator committed)."""
        profile, points, status = action(data)
        deliveries: list[Delivery] = []
        if self.notify is not None:
            deliveries = [self.notify.notify(profile, point, status) for point in points]
        return {
            "iccid": profile.iccid,
            "state": profile.state.value,
            "notifications": [delivery.as_json() for delivery in deliveries],
        }


def _endpoint(simulator: _Simulator, action: _Action) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        data = await json_body(request)
        try:
            result = await run_in_threadpool(simulator.perform, action, data)
        except DeviceRefusedError as refused:
            code = refused.code
            return problem(409, f"{code.subject}/{code.reason}", code.message or str(code))
        return JSONResponse(result)

    return endpoint


def _profile_endpoint(emulator: SmdpEmulator) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        profile = await run_in_threadpool(emulator.profile, request.path_params["iccid"])
        if profile is None:
            return problem(404, "not-found", "no such profile at the SM-DP+ emulator")
        return JSONResponse(
            {
                "iccid": profile.iccid,
                "profileType": profile.profile_type,
                "state": profile.state.value,
                "eid": profile.eid,
                "matchingId": profile.matching_id,
                "deletedOnDevice": profile.deleted_on_device_at is not None,
            }
        )

    return endpoint


def simulator_routes(emulator: SmdpEmulator, notify: NotificationSender | None) -> list[Route]:
    simulator = _Simulator(emulator, notify)
    actions: dict[str, _Action] = {
        "download": simulator.download,
        "install": simulator.install,
        "delete": simulator.delete,
        "disable": simulator.disable,
    }
    routes = [
        Route(f"/simulator/{name}", _endpoint(simulator, action), methods=["POST"])
        for name, action in actions.items()
    ]
    routes.append(Route("/simulator/profiles/{iccid}", _profile_endpoint(emulator)))
    return routes
