"""`esimcare phone ...`, the PHONE SIMULATOR, drives the SM-DP+ emulator over HTTP."""

from __future__ import annotations

import argparse

import pytest

from esimcare.cli import main
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.cli import parse_inventory
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.server import create_emulator_app
from esimcare.sandbox.store import EmulatorStore
from tests.contract.conftest import ServeAsgi


def test_phone_install_then_delete_walks_the_profile_through_the_emulator(
    serve_asgi: ServeAsgi,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    smdp = SmdpEmulator(emulator_store, clock)
    (iccid,) = smdp.generate_inventory("consumer", 1)
    smdp.download_order(iccid=iccid)
    smdp.confirm_order(iccid=iccid, release=True)
    url = serve_asgi(create_emulator_app(smdp))

    installed = main(["phone", "install", smdp.activation_code(iccid), "--emulator-url", url])
    deleted = main(["phone", "delete", iccid, "--emulator-url", url])

    assert (installed, deleted) == (0, 0)
    snapshot = smdp.profile(iccid)
    assert snapshot is not None and snapshot.state is SmdpProfileState.INSTALLED
    assert snapshot.deleted_on_device_at is not None
    out = capsys.readouterr().out
    assert f"phone simulator: installed profile {iccid} (SM-DP+ state Installed)" in out
    assert f"phone simulator: deleted profile {iccid}" in out


def test_phone_reports_a_refusal_and_an_unreachable_emulator(
    serve_asgi: ServeAsgi,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    closed_port_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = serve_asgi(create_emulator_app(SmdpEmulator(emulator_store, clock)))

    refused = main(["phone", "install", "NO-SUCH-CODE", "--emulator-url", url])
    unreachable = main(
        ["phone", "delete", "8999001000000000001", "--emulator-url", closed_port_url]
    )

    assert (refused, unreachable) == (1, 1)
    out = capsys.readouterr().out
    assert "refused download: 8.2.6/3.8" in out
    assert "cannot reach the SM-DP+ emulator" in out


def test_inventory_arguments_are_type_equals_count() -> None:
    assert parse_inventory(["consumer=20", "iot=0"]) == {"consumer": 20, "iot": 0}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_inventory(["consumer"])
