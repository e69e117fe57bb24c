"""The HTTP side of Glean: an app factory, so nothing is configured at import time."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines import health
from pipelines.settings import Settings
from pipelines.store import Store

from .scheduler import PipelineScheduler

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one JSON error shape every endpoint answers with."""
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 401: "unauthorized", 403: "forbidden", 405: "method_not_allowed"}
        return error_response(exc.status_code, code.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return error_response(422, "invalid_parameter", f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal_error", "something went wrong on our side; see the server log")


def create_app(settings: Settings, *, run_scheduler: bool = True) -> FastAPI:
    store = Store(settings.home)
    scheduler = PipelineScheduler(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_scheduler:
            scheduler.start()
        yield
        scheduler.shutdown()

    app = FastAPI(title="Glean", version="0.1.0", lifespan=lifespan,
                  description="Reading against the consensus: limitations, appendices, classics.")
    app.state.settings = settings
    app.state.store = store
    app.state.scheduler = scheduler
    install_error_handlers(app)

    @app.get("/healthz", summary="Liveness, schema version and the scheduler's state")
    def healthz() -> dict:
        return {"status": "ok", "schema_version": store.schema_version, "scheduler": scheduler.describe()}

    @app.get("/api/status", summary="Per-source health (failing, stale, ok), papers and PDFs")
    def api_status() -> dict:
        return health.status(store)

    return app
