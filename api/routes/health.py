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
    """Ready for traffic: the fan-out hub runs and every backing service answers. ``checks``
    names each one ("ok" or why not), so an operator sees which service is down."""
    hub = getattr(request.app.state, "hub", None)
    probes = getattr(request.app.state, "probes", None)
    checks = {"hub": "ok" if hub and hub.running else "not running"}
    checks.update(probes() if probes else {})
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )
