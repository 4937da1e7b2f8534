"""The web process: REST API, customer portal and (in the demo) a worker thread, one ASGI app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from esimcare.api.direct_readers import close_direct_readers, open_direct_readers
from esimcare.api.fast_lane import FastLane
from esimcare.api.front_door import EsimcareApp, notification_door
from esimcare.api.problems import problem_for_error, problem_for_http, problem_for_validation
from esimcare.api.setup import install_api
from esimcare.console.setup import UPLOAD_LIMITS, install_console
from esimcare.context import Context
from esimcare.errors import DomainError, InternalError
from esimcare.es2plus.receiver import close_receiver
from esimcare.portal.errors import error_page, invalid_request_page, unexpected_error_page
from esimcare.portal.setup import install_portal
from esimcare.runtime import build_worker
from esimcare.web.headers import MachineHeadersMiddleware
from esimcare.web.limits import BodySizeLimitMiddleware

log = structlog.get_logger()

_MACHINE_PREFIXES = ("/api/", "/es2plus/")
OPENAPI_URL = "/api/openapi.json"


def wants_problem_json(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE_PREFIXES)


def create_app(ctx: Context, *, run_worker: bool = False) -> FastAPI:
    app = EsimcareApp(
        title="esimcare",
        version="0.1.0",
        description="eSIM self-care: cancellation across contract, network and SM-DP+.",
        # No browsable docs: FastAPI's pages load their scripts from a CDN. The document itself
        # is published in development, and in production only when ESIMCARE_API_DOCS is set.
        openapi_url=OPENAPI_URL if ctx.settings.development or ctx.settings.api_docs else None,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(ctx, run_worker),
        # esimcare observes itself with prometheus-client and structlog; FastAPI's native
        # OpenTelemetry, on by default, asks for the global providers on every request (~10 µs
        # of a 100 µs read) only to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    install_api(app, ctx)
    if ctx.settings.development:
        # The one place the web app reaches into the sandbox: development mounts its faces.
        from esimcare.sandbox.web import install_sandbox

        install_sandbox(app, ctx)
    install_console(app, ctx)  # before the portal, whose /{operator} paths would take /staff
    install_portal(app, ctx)
    _install_error_handlers(app)
    app.add_middleware(FastLane)  # the hottest doors, before routing, inside the size limit
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=ctx.settings.limits.max_body_bytes,
        larger=UPLOAD_LIMITS,
    )
    app.add_middleware(MachineHeadersMiddleware)  # outermost: the 413 answers get them too
    # ES2+ notifications skip FastAPI's own layers: the same headers, limit and error answer.
    app.notification_door = notification_door(ctx.settings.limits.max_body_bytes)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """One place renders every error: problem+json for machines, a readable page for people."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        if wants_problem_json(request):
            return problem_for_error(request, error)
        return error_page(request, error.status, error.title, error.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        if wants_problem_json(request):
            return problem_for_validation(request, error)
        return invalid_request_page(request, error)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> Response:
        # A bug, not an answer: logged with its traceback, shown without one.
        log.exception("request.failed", path=request.url.path)
        if wants_problem_json(request):
            return problem_for_error(request, InternalError())
        return unexpected_error_page(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if wants_problem_json(request):
            return problem_for_http(request, error)
        return error_page(request, error.status_code, str(error.detail), "")


def _lifespan(
    ctx: Context, run_worker: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await open_direct_readers(app, ctx)
        stop = threading.Event()
        thread = None
        if run_worker:
            worker = build_worker(ctx)
            thread = threading.Thread(
                target=worker.run_forever, args=(stop,), name="worker", daemon=True
            )
            thread.start()
            log.info("worker.started", in_process=True)
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
            await close_direct_readers(app)
            close_receiver(app)

    return lifespan
