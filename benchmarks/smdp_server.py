"""The SM-DP+ emulator served over ES2+ HTTP for the cancellation benchmark (uvicorn factory).

``ESIMCARE_BENCH_EMULATOR_DB`` names the emulator store the benchmark seeded its profiles into,
so the server and the seeding see the same SM-DP+."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from esimcare.kit.clock import SystemClock
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.smdp_emulator.server import create_emulator_app
from esimcare.sandbox.store import EmulatorStore

DATABASE_ENV = "ESIMCARE_BENCH_EMULATOR_DB"


def create() -> Starlette:
    store = EmulatorStore(os.environ[DATABASE_ENV])
    return create_emulator_app(SmdpEmulator(store, SystemClock()))
