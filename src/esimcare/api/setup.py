"""Mounts the REST API (``/api/v1``) on the web app."""

from __future__ import annotations

from fastapi import FastAPI

from esimcare.api import cancellations, esims, operations, ordering, public, sessions
from esimcare.context import Context
from esimcare.es2plus import receiver


def install_api(app: FastAPI, ctx: Context) -> None:
    app.include_router(public.router)
    app.include_router(operations.router)
    app.include_router(sessions.router)
    app.include_router(esims.router)
    app.include_router(cancellations.router)
    app.include_router(ordering.router)
    app.include_router(receiver.router)
