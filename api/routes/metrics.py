"""Prometheus metrics of one API process, on ``/metrics``: for admins, or for a scraper with the
bearer token ``LANDUN_METRICS_TOKEN``; never anonymous."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from api.deps import IssuerDep, PortsDep, current_grant
from api.security import Role

router = APIRouter(tags=["health"])


class Metrics:
    """The process's collectors, in a registry of their own (one per app, so tests can build
    many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "landun_http_requests", "HTTP requests", ["method", "status"], registry=r
        )
        self.ws_clients = Gauge("landun_ws_clients", "Open websockets", ["channel"], registry=r)
        self.ws_frames = Counter("landun_ws_frames_sent", "Frames sent", ["channel"], registry=r)
        self.ws_positions = Counter(
            "landun_ws_positions_sent", "Positions sent to clients", registry=r
        )
        self.ws_slow_closes = Counter(
            "landun_ws_slow_consumer_closes", "Clients closed as too slow (1013)", registry=r
        )
        self.ws_rejected = Counter(
            "landun_ws_rejected", "Handshakes refused", ["reason"], registry=r
        )
        self.bus_messages = Counter(
            "landun_bus_messages", "Bus messages fanned out", ["topic"], registry=r
        )
        self.login_failures = Counter(
            "landun_login_failures", "Failed logins (wrong or unknown credentials)", registry=r
        )
        self.login_throttled = Counter(
            "landun_login_throttled",
            "Logins refused with 429, by the key that was throttled (account or address)",
            ["by"],
            registry=r,
        )
        self.login_busy = Counter(
            "landun_login_busy", "Logins refused with 503 (the password pool was full)", registry=r
        )


def scraper_or_admin(request: Request, ports: PortsDep, issuer: IssuerDep) -> None:
    """Admit the configured scraper token (compared in constant time) or an admin."""
    token = request.app.state.settings.metrics_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    offered = given.strip().encode() if scheme.lower() == "bearer" else b""
    expected = token.get_secret_value().encode() if token is not None else b""
    if expected and hmac.compare_digest(offered, expected):
        return
    who = current_grant(request, ports, issuer).who
    if who.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role} may not do this")


@router.get("/metrics", dependencies=[Depends(scraper_or_admin)])
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
