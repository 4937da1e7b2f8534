"""Mounting the staff console at /staff/: pages, static files, and its redirects."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from esimcare.console import (
    audit_pages,
    auth_pages,
    bulk_pages,
    cancel_pages,
    customers,
    failed_work_pages,
    report_pages,
    support_pages,
    webhook_pages,
)
from esimcare.console.deps import SecondFactorPendingError, StaffLoginRequiredError
from esimcare.console.i18n import load_console_catalogs
from esimcare.context import Context
from esimcare.portal.rendering import redirect

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Paths whose forms carry a file: their own body limit (app.py's BodySizeLimitMiddleware).
UPLOAD_LIMITS = {bulk_pages.PREFIX: bulk_pages.MAX_BODY_BYTES}


def install_console(app: FastAPI, ctx: Context) -> None:
    """Before the portal: its ``/{operator}/...`` paths would otherwise take ``/staff/...``."""
    load_console_catalogs()
    app.mount("/staff/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    pages = (auth_pages, customers, cancel_pages, support_pages, failed_work_pages, bulk_pages)
    for module in (*pages, report_pages, audit_pages, webhook_pages):
        app.include_router(module.router, include_in_schema=False)

    async def login_required(request: Request, error: Exception) -> Response:
        return redirect("/staff/login")

    async def second_factor_pending(request: Request, error: Exception) -> Response:
        return redirect("/staff/login/second-factor")

    app.add_exception_handler(StaffLoginRequiredError, login_required)
    app.add_exception_handler(SecondFactorPendingError, second_factor_pending)
