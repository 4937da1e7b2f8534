"""The ASGI entry point for process managers.

    uvicorn --factory esimcare.asgi:create_app_from_env --workers 4


Each web process builds its own context from the environment (ESIMCARE_*), so any number of
them can run side by side against one database. Migrations are not run here: one process
(``esimcare db upgrade`` or ``esimcare serve``) applies them before the web processes start.
"""

from __future__ import annotations

import gc
import sys

from fastapi import FastAPI

from esimcare.app import create_app
from esimcare.config import Settings
from esimcare.runtime import build_context


def create_app_from_env() -> FastAPI:
    app = create_app(build_context(Settings.from_env()), run_worker=False)
    # Everything built so far (models, routes, schemas, catalogs) lives as long as the process:
    # out of the collector's sight, a full collection no longer walks it on every request burst.
    gc.freeze()
    # A thread back from the database (a PostgreSQL round trip in the thread pool, the ES2+
    # writer's commit) waits for the GIL until the busy event loop yields it: by default up
    # to 5 ms each time, several times per batch. Half a millisecond doubled the receiver's
    # rate on PostgreSQL (docs/performance.md) and costs the loop next to nothing.
    sys.setswitchinterval(SERVER_GIL_SWITCH_INTERVAL_S)
    return app


SERVER_GIL_SWITCH_INTERVAL_S = 0.0005
