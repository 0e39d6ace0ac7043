"""Prometheus metrics of one API process, on ``/metrics`` (admins, or a scraper's bearer token
equal to an admin's access token; no anonymous scraping)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from api.deps import AdminUser

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


@router.get("/metrics")
def metrics(request: Request, who: AdminUser) -> Response:
    """Prometheus text exposition."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
