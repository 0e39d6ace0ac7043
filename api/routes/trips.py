"""Trips (electronic manifests, 电子联单) and kitchen rounds, scoped by the vehicle's district."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import CurrentUser, PortsDep, not_found, scope_district, vehicle_district
from api.ports import Record
from stream.eventtime import parse_ts

router = APIRouter(prefix="/api/trips", tags=["trips"])


def _district(ports, trip: Record) -> str | None:
    return trip.get("district") or vehicle_district(ports, trip.get("vehicle", ""))


@router.get("")
def list_trips(
    who: CurrentUser,
    ports: PortsDep,
    vehicle: str | None = None,
    status: str | None = None,
    district: str | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[Record]:
    """Trips in scope, filtered by vehicle, status and district; the newest first (by load or
    round start time), at most ``limit``."""
    scope = scope_district(who, district)
    rows = [
        t
        for t in ports.trips.list()
        if (scope is None or _district(ports, t) == scope)
        and (vehicle is None or t.get("vehicle") == vehicle)
        and (status is None or t.get("status") == status)
    ]
    rows.sort(key=_started, reverse=True)
    return rows[:limit]


def _started(trip: Record) -> tuple[int, str]:
    """Sort key: a muck trip's load time or a round's start, then the id (ties, missing)."""
    started = trip.get("load_ts") or trip.get("start_ts")
    try:
        ms = parse_ts(started) if started else -1
    except ValueError:
        ms = -1
    return ms, str(trip.get("id", ""))


@router.get("/{trip_id}")
def get_trip(trip_id: str, who: CurrentUser, ports: PortsDep) -> Record:
    """One trip."""
    trip = ports.trips.get(trip_id)
    if trip is None or not who.sees(_district(ports, trip)):
        raise not_found("trip", trip_id)
    return trip
