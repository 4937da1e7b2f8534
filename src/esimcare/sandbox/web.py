"""What the sandbox adds to the web app in development: the outbox reader and the SM-DP+ emulator.

``app.create_app`` calls :func:`install_sandbox` only in development mode, so in production
neither path exists (a 404) and neither is in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI

from esimcare.context import Context
from esimcare.sandbox import outbox_api
from esimcare.sandbox.smdp_emulator.demo_mount import install_demo_emulator


def install_sandbox(app: FastAPI, ctx: Context) -> None:
    app.include_router(outbox_api.router)
    install_demo_emulator(app, ctx)
