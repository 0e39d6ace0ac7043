"""Liveness and readiness probes (anonymous)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process serves requests. No dependency checks here: a failing liveness restarts."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the fan-out hub is subscribed to the bus."""
    hub = getattr(request.app.state, "hub", None)
    checks = {"hub": bool(hub and hub.running)}
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )
