"""Investigation queries over the trace archive (issue 12): a vehicle's track, who was here,
stops, and the fences as they were, under ``/api/replay``.

Access follows the rest of the API: a caller without a district sees everything. A caller with
one (a district officer, enforcement bound to a district) sees a vehicle registered in their
district over any window; a vehicle registered elsewhere only inside the evidence windows
(``replay.window.alert_window``) of alerts raised in their district for it, the window asked
for being clipped to them, and 404 when there are none (so a vehicle's existence leaks to no
one who may not see it). Alerts are the API's (its alert store) and, for those it does not hold,
the archive's (``replay.access``). A vehicle's district is the registry's (``vehicle_district``);
a vehicle the API does not know is looked up in the archive's registry as of the window's end.
who-was-here answers only the vehicles (and times) the caller may see. A malformed or too long
window, a bad area or page: 422 with the query's message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, PortsDep, not_found, vehicle_district
from api.ids import id_path
from api.ports import AlertQuery, Ports
from api.security import Principal
from replay import access, queries
from replay.duck import READ_ERRORS, Interval, Scope, window
from replay.queries import ArchiveQueryError
from replay.reference import reference_as_of
from replay.settings import ArchiveSettings
from stream.eventtime import iso_ts, parse_ts

log = logging.getLogger(__name__)


class ArchiveRoute(APIRoute):
    """A route whose archive read fails on a damaged file (a Parquet file cut short under a
    final name: a copy interrupted on its way to object storage, a bad disk) answers 503 saying
    so, the file named in the log only, instead of a 500 (review R1, issue 12)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except READ_ERRORS:
                log.exception("trace archive read failed: %s", request.url.path)
                return JSONResponse(
                    {"detail": "the trace archive cannot be read (a damaged file; see the log)"},
                    status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                )

        return guarded


router = APIRouter(prefix="/api/replay", tags=["replay"], route_class=ArchiveRoute)
VehicleId = Annotated[str, id_path("vehicle")]
TimeParam = Query(..., description="ISO 8601 with an offset, or epoch ms")
STORE_ALERTS = 5_000  # alerts of one district around one window read from the API's store


class AreaQuery(BaseModel):
    """who-was-here over a GeoJSON polygon (WGS-84 ``[lng, lat]``; at most 50 km²)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    polygon: dict[str, Any]
    start: str | int = Field(alias="from")
    end: str | int = Field(alias="to")
    vehicles: list[str] | None = None


def archive_dir(request: Request) -> Path:
    """The archive: ``app.state.archive_dir`` when set (tests, embedded), else
    LANDUN_ARCHIVE_DIR; 503 when it is not there (a deployment without an archive)."""
    configured = getattr(request.app.state, "archive_dir", None)
    folder = Path(configured) if configured is not None else ArchiveSettings().dir
    if not folder.is_dir():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the trace archive is not available here (LANDUN_ARCHIVE_DIR)",
        )
    return folder


@router.get("/track/{vehicle_id}")
def replay_track(
    vehicle_id: VehicleId,
    who: CurrentUser,
    ports: PortsDep,
    request: Request,
    start: str = Query(..., alias="from", description="ISO 8601 with an offset, or epoch ms"),
    end: str = Query(..., alias="to", description="ISO 8601 with an offset, or epoch ms"),
    limit: int = Query(queries.DEFAULT_PAGE, description=f"points per page, 1-{queries.MAX_PAGE}"),
    cursor: str | None = Query(None, description="the previous page's next"),
) -> dict[str, Any]:
    """One page of the vehicle's Track JSON (docs/formats.md, "Archive"): the track with its
    stops, alerts, fence events and trips; ``next`` is the cursor of the following page."""
    archive = archive_dir(request)
    lo, hi = _window(start, end)
    sight = _sight(who, ports, archive, vehicle_id, lo, hi)
    return _asked(
        lambda: queries.track(
            archive, vehicle_id, lo, hi, limit, cursor, within=sight, districts=_own(who)
        )
    )


@router.get("/who-was-here")
def who_was_here_circle(
    who: CurrentUser,
    ports: PortsDep,
    request: Request,
    lat: float = Query(..., description="WGS-84 latitude of the centre"),
    lng: float = Query(..., description="WGS-84 longitude of the centre"),
    radius_m: float = Query(..., description="metres, at most 5000"),
    start: str = Query(..., alias="from", description="ISO 8601 with an offset, or epoch ms"),
    end: str = Query(..., alias="to", description="ISO 8601 with an offset, or epoch ms"),
) -> dict[str, list[dict[str, Any]]]:
    """The vehicles in scope that came within ``radius_m`` of a point in the window."""
    archive = archive_dir(request)
    lo, hi = _window(start, end)
    scope = _scope(who, ports, archive, lo, hi)
    hits = _asked(lambda: queries.who_was_here(archive, lat, lng, radius_m, lo, hi, scope=scope))
    return {"vehicles": hits}


@router.post("/who-was-here")
def who_was_here_polygon(
    body: AreaQuery, who: CurrentUser, ports: PortsDep, request: Request
) -> dict[str, list[dict[str, Any]]]:
    """The vehicles in scope with a fix inside a GeoJSON polygon in the window."""
    archive = archive_dir(request)
    lo, hi = _window(body.start, body.end)
    scope = _scope(who, ports, archive, lo, hi)
    hits = _asked(
        lambda: queries.who_was_here(
            archive, None, None, None, lo, hi, polygon=body.polygon, vehicles=body.vehicles,
            scope=scope,
        )
    )  # fmt: skip
    return {"vehicles": hits}


@router.get("/stops")
def replay_stops(
    who: CurrentUser,
    ports: PortsDep,
    request: Request,
    start: str = Query(..., alias="from", description="ISO 8601 with an offset, or epoch ms"),
    end: str = Query(..., alias="to", description="ISO 8601 with an offset, or epoch ms"),
    vehicle: str | None = Query(None, description="a vehicle id"),
    company: str | None = Query(None, description="a company, as in the registry"),
) -> dict[str, list[dict[str, Any]]]:
    """The stops of a vehicle, or of a company's vehicles (the registry as of ``to``), that the
    caller may see, overlapping the window."""
    if (vehicle is None) == (company is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give vehicle or company")
    archive = archive_dir(request)
    lo, hi = _window(start, end)
    limited: Scope = {}  # vehicles seen only inside alert windows, and those windows
    if vehicle is not None:
        sight = _sight(who, ports, archive, vehicle, lo, hi)
        scope = None if sight is None else {vehicle: sight}
        limited = scope or {}
        vehicles = [vehicle]
    else:
        vehicles = _company(ports, archive, company, hi)
        scope = _scope(who, ports, archive, lo, hi)
        if scope is not None:
            vehicles = [v for v in vehicles if v in scope]
            own = _registered_in(ports, archive, str(who.district), hi)
            limited = {v: scope[v] for v in vehicles if v not in own}
        if not vehicles:
            raise not_found("company", company)
    found = _asked(lambda: queries.stops(archive, lo, hi, vehicles=vehicles, scope=scope))
    return {"stops": [s for s in found if _within_sight(s, limited)]}


def _within_sight(stop: dict[str, Any], limited: Scope) -> bool:
    """A stop of a vehicle seen only inside alert windows is shown only when it lies wholly in
    one: its start, end and duration would otherwise tell how long the truck stood there
    beyond them (review R1, issue 12: "nothing beyond that")."""
    windows = limited.get(stop["vehicle"])
    if windows is None:
        return True
    first = parse_ts(stop["ts"])
    last = parse_ts(stop["ended_ts"]) if stop["ended_ts"] is not None else first
    return any(a <= first and last <= b for a, b in windows)


@router.get("/fences")
def fences_at(
    who: CurrentUser,
    request: Request,
    at: str = Query(..., description="ISO 8601 with an offset, or epoch ms"),
    kind: str | None = None,
) -> dict[str, Any]:
    """The fences as they were at ``at`` (the archive's versions), as a FeatureCollection. Like
    ``/api/fences`` every signed-in caller reads them all (the map's reference layer)."""
    archive = archive_dir(request)
    moment, _ = _window(at, at)
    features, _ = reference_as_of(archive, moment)
    shown = [f for f in features if kind is None or (f.get("properties") or {}).get("kind") == kind]
    return {"type": "FeatureCollection", "at": iso_ts(moment), "features": shown}


def _own(who: Principal) -> set[str] | None:
    """The districts whose alerts the caller sees (None: all), as ``/api/alerts`` scopes them."""
    return None if who.district is None else {who.district}


def _window(start: str | int, end: str | int) -> tuple[int, int]:
    return _asked(lambda: window(start, end))


def _asked(query):
    """Run an archive query; its refusal is a 422 with the message."""
    try:
        return query()
    except ArchiveQueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _sight(
    who: Principal, ports: Ports, archive: Path, vehicle: str, lo: int, hi: int
) -> list[Interval] | None:
    """What the caller may see of ``vehicle`` in ``[lo, hi]``: None for all of it, else the
    alert windows; 404 for a vehicle nobody registered or one the caller may not see."""
    home = _home(ports, archive, vehicle, hi)
    if home is None:
        raise not_found("vehicle", vehicle)
    if who.district is None or home[0] == who.district:
        return None
    windows = _alert_windows(who.district, ports, archive, lo, hi, vehicle).get(vehicle)
    if not windows:
        raise not_found("vehicle", vehicle)
    return windows


def _scope(who: Principal, ports: Ports, archive: Path, lo: int, hi: int) -> Scope | None:
    """Vehicle -> what a district caller may see of it in ``[lo, hi]`` (None: city-wide)."""
    if who.district is None:
        return None
    scope: Scope = dict(_alert_windows(who.district, ports, archive, lo, hi))
    for vid in _registered_in(ports, archive, who.district, hi):
        scope[vid] = [(lo, hi)]
    return scope


def _home(ports: Ports, archive: Path, vehicle: str, at: int) -> tuple[str | None] | None:
    """``(district,)`` of a registered vehicle (the API's registry, else the archive's as of
    ``at``); None for a vehicle neither knows."""
    if ports.vehicles.get(vehicle) is not None or ports.live.get(vehicle) is not None:
        return (vehicle_district(ports, vehicle),)
    for entry in reference_as_of(archive, at)[1].get("vehicles") or ():
        if entry.get("id") == vehicle:
            return (entry.get("district"),)
    return None


def _registered_in(ports: Ports, archive: Path, district: str, at: int) -> set[str]:
    """The vehicles registered in ``district``: the API's registry, plus the archive's (as of
    ``at``) for vehicles the API does not hold."""
    held = {v["id"]: v.get("district") for v in ports.vehicles.list()}
    for entry in reference_as_of(archive, at)[1].get("vehicles") or ():
        held.setdefault(entry.get("id"), entry.get("district"))
    return {vid for vid, home in held.items() if home == district}


def _company(ports: Ports, archive: Path, company: str, at: int) -> list[str]:
    """The vehicles of ``company``: the archive's registry as of ``at``, or the API's when the
    archive holds none."""
    entries = reference_as_of(archive, at)[1].get("vehicles") or ports.vehicles.list()
    return sorted(v["id"] for v in entries if v.get("company") == company)


def _alert_windows(
    district: str, ports: Ports, archive: Path, lo: int, hi: int, vehicle: str | None = None
) -> dict[str, list[Interval]]:
    """Vehicle -> evidence windows of the alerts raised in ``district`` overlapping the window:
    the API's alerts, and the archive's for those the API does not hold."""
    since, until = access.reach(lo, hi)
    query = AlertQuery(
        district=district, vehicle=vehicle, since_ms=since, until_ms=until, limit=STORE_ALERTS
    )
    store = ports.alerts.query(query)
    archived = access.archived_alerts(archive, district, lo, hi, vehicle)
    # an alert the API holds is the API's, even when the archive files it under this district
    archived = {i: a for i, a in archived.items() if ports.alerts.get(i) is None}
    return access.alert_windows(access.known_first(store, archived), district, lo, hi)
