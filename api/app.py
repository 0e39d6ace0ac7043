"""The composition of the API: ``create_app(settings, ports) -> FastAPI``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api import ws
from api.feed import Feed
from api.hub import Hub
from api.memory import memory_ports
from api.offline import sweep_offline
from api.passwords import PasswordPool
from api.ports import Ports, RecordRejected
from api.routes import (
    alerts,
    auth,
    cases,
    evidence,
    fences,
    health,
    live,
    map,
    metrics,
    registry,
    trips,
    vehicles,
)
from api.routes import replay as replay_routes
from api.security import TokenIssuer, User, demo_users, users_from_file
from api.sessions import AccountCache
from api.settings import Settings
from api.throttle import LoginThrottle, Policy
from stream.live.errors import ServiceUnavailable

STATIC = Path(__file__).parent / "static"
RETRY_AFTER_S = 5  # seconds a client waits before retrying after a 503
log = logging.getLogger(__name__)
# Scripts and styles only from this server; tiles from wherever LANDUN_TILE_URL points.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https: http:; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def default_users(settings: Settings) -> list[User]:
    """Accounts from ``users_file``, plus the demo accounts in demo mode only, each only where
    the file has no account of that name (a demo password must never open a real account)."""
    users = users_from_file(settings.users_file) if settings.users_file else []
    taken = {u.username for u in users}
    return users + [u for u in (demo_users() if settings.demo else []) if u.username not in taken]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by header and by bytes read."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    """A streamed body passed the limit."""


class CountRequests:
    """Count HTTP responses by method and status."""

    def __init__(self, app, metrics: metrics.Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def counting_send(message):
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(scope["method"], str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


def add_error_handlers(app: FastAPI) -> None:
    """Answer 503 (with Retry-After) when a backing service is unreachable, and 422 naming the
    field when the system of record refuses a write, instead of a 500 with a traceback."""

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request, exc: ServiceUnavailable) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        body = {"detail": f"{exc.service} is unavailable; retry later", "service": exc.service}
        return JSONResponse(body, 503, headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(RecordRejected)
    async def rejected(request, exc: RecordRejected) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": exc.field}, 422)


def create_app(
    settings: Settings,
    ports: Ports | None = None,
    clock: Callable[[], float] = time.time,
    probes: Callable[[], dict[str, str]] | None = None,
) -> FastAPI:
    """Build the API over ``ports`` (default: empty in-memory ports with the default users).

    Parameters
    ----------
    settings : Settings
        The process's settings.
    ports : Ports, optional
        Stores and bus. The embedded demo passes its own and feeds them via ``app.state.feed``.
    clock : callable
        Wall clock in epoch seconds, for token expiry and case timestamps.
    probes : callable, optional
        ``{service: "ok" | reason}`` of the backing services, for /readyz (production).
    """
    if ports is None:
        ports = memory_ports(
            default_users(settings), settings.track_points, settings.alert_log_size
        )
    collectors = metrics.Metrics()
    hub = Hub(ports, collectors)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await hub.start()
        sweeping = None
        if settings.offline_sweep_s > 0:
            sweeping = asyncio.create_task(sweep_offline(app.state.feed, settings.offline_sweep_s))
        try:
            yield
        finally:
            if sweeping is not None:
                sweeping.cancel()
            await hub.stop()
            app.state.passwords.close()

    app = FastAPI(title="landun 蓝盾", version="0.1.0", lifespan=lifespan)
    secret = settings.secret_key.get_secret_value()
    app.state.settings = settings
    app.state.ports = ports
    app.state.clock = clock
    app.state.probes = probes
    app.state.issuer = TokenIssuer(secret, settings.token_ttl_s, settings.ws_ticket_ttl_s, clock)
    app.state.feed = Feed(ports)
    app.state.metrics = collectors
    app.state.hub = hub
    app.state.passwords = PasswordPool(settings.password_workers, settings.password_queue)
    app.state.logins = LoginThrottle(Policy.from_settings(settings), clock)
    app.state.accounts = AccountCache(ports.users, settings.ws_recheck_s)
    for module in (health, auth, map, fences, vehicles, registry, live, trips, alerts, metrics):
        app.include_router(module.router)
    app.include_router(cases.router)  # the day's case list and dismissal reasons (issue 13)
    app.include_router(evidence.router)  # the evidence pack download (issue 12)
    app.include_router(replay_routes.router)  # investigation queries over the archive (issue 12)
    app.include_router(ws.router)
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The login page and live map (the page itself holds no data)."""
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(CountRequests, metrics=collectors)
    return app
