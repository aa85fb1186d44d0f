"""The FastAPI app: A1111's middleware (GZip, error envelope, X-Process-Time) and every route."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from emulator.routes import admin, catalog, dcgm, generation, models, options, system
from emulator.routes.admin import Listener
from emulator.routes.auth import ApiAuth
from emulator.routes.envelope import EnvelopeMiddleware, http_exception_handler
from emulator.routes.process_time import ProcessTimeMiddleware
from emulator.runtime import Runtime


def create_app(rt: Runtime, listener: Listener | None = None) -> FastAPI:
    """A bare FastAPI() like A1111's `api_only()`, so /docs and /openapi.json exist too."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)
    app.add_middleware(ProcessTimeMiddleware, api_log=bool(rt.config.a1111_flags.get("api_log")))
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    flags = rt.config.a1111_flags
    if flags.get("cors_allow_origins") or flags.get("cors_allow_origins_regex"):
        origins = flags["cors_allow_origins"].split(",") if flags.get("cors_allow_origins") else []
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_origin_regex=flags.get("cors_allow_origins_regex"),
            allow_methods=["*"], allow_credentials=True, allow_headers=["*"],
        )  # fmt: skip
    app.add_exception_handler(HTTPException, http_exception_handler)
    auth = ApiAuth(rt.config.api_auth)
    generation.register(app, rt, auth)
    options.register(app, rt, auth)
    models.register(app, rt, auth.dependencies())
    catalog.register(app, rt, auth.dependencies())
    system.register(app, rt, auth.dependencies())
    admin.register(app, rt, listener)
    dcgm.register(app, rt)
    return app
