"""Registered vehicles: search, the vehicle card, recent tracks; district officers see their
district's (and, on the card, a vehicle an alert of their district names: issue 13)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api import vehicle_card as card
from api.deps import (
    AdminUser,
    CurrentUser,
    PortsDep,
    not_found,
    scope_district,
)
from api.ids import Id, id_path
from api.ports import AlertQuery, Record
from api.security import Principal
from stream.eventtime import parse_ts
from stream.live.projection import POSITION_STATES

router = APIRouter(prefix="/api/vehicles", tags=["vehicles"])
VehicleId = Annotated[str, id_path("vehicle")]
LiveState = Literal[POSITION_STATES]  # type: ignore[valid-type]


class Vehicle(BaseModel):
    """A registry vehicle (shared contract ``registry.json``)."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    kind: Literal["muck", "kitchen", "oil"]
    company: str = Field("", max_length=200)
    district: str = Field(min_length=1, max_length=32)
    terminal_phone: str = Field("", max_length=32)
    plate: str = Field("", max_length=32)


@router.get("")
def list_vehicles(
    who: CurrentUser,
    ports: PortsDep,
    q: str | None = Query(None, max_length=64, description="part of a plate, id, company, phone"),
    district: str | None = None,
    company: str | None = None,
    kind: str | None = None,
    state: LiveState | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[Record]:
    """Vehicles in the caller's scope with their live position, found by ``q`` (a
    case-insensitive substring of plate, id, company or terminal phone) and filtered by
    district, company, kind and live state (no live position is ``offline``); sorted by plate,
    then id; at most ``limit`` (issue 13)."""
    scope = scope_district(who, district)
    needle = card.fold(q)
    found = [
        v
        for v in ports.vehicles.list()
        if who.sees(v.get("district"))
        and (scope is None or v.get("district") == scope)
        and (kind is None or v.get("kind") == kind)
        and (company is None or v.get("company") == company)
        and card.matches(v, needle)
    ]
    positions = {p["vehicle"]: p for p in ports.live.query(scope)} if found else {}
    rows = [{**v, "position": positions.get(v["id"])} for v in found]
    if state is not None:
        rows = [r for r in rows if card.live_state(r["position"]) == state]
    rows.sort(key=card.sort_key)
    return rows[:limit]


@router.get("/{vehicle_id}")
def get_vehicle(vehicle_id: VehicleId, who: CurrentUser, ports: PortsDep) -> Record:
    """The vehicle card: the registry record, its live position, its trip under way and that
    trip's permit, and its latest alerts the caller may see (newest first). A district officer
    may open a vehicle registered elsewhere while an alert raised in their district names it
    (``api.vehicle_card.alert_opens``)."""
    record = ports.vehicles.get(vehicle_id)
    position = ports.live.get(vehicle_id)
    if record is None or not _may_open(who, ports, record, position):
        raise not_found("vehicle", vehicle_id)
    trip = card.current_trip(ports.trips.list(), vehicle_id)
    permit = ports.permits.get(trip["permit"]) if trip and trip["permit"] else None
    alerts = ports.alerts.query(
        AlertQuery(district=who.district, vehicle=vehicle_id, limit=card.CARD_ALERTS)
    )
    return {
        **record,
        "position": position,
        "trip": trip,
        "permit": card.permit_card(permit),
        "alerts": [card.alert_line(a) for a in alerts],
    }


def _may_open(who: Principal, ports, record: Record, position: Record | None) -> bool:
    """The caller's own district's vehicle, or one a recent alert of their district names."""
    if who.sees(record.get("district")):
        return True
    named = ports.alerts.query(AlertQuery(district=who.district, vehicle=record["id"], limit=1))
    if not named:
        return False
    newest = ports.alerts.query(AlertQuery(district=who.district, limit=1))
    now_ms = card.data_now(position, newest[0] if newest else None)
    return card.alert_opens(named[0], now_ms)


@router.get("/{vehicle_id}/track")
def vehicle_track(
    vehicle_id: VehicleId,
    who: CurrentUser,
    ports: PortsDep,
    since: str | None = Query(None, description="ISO 8601 with offset, or epoch ms"),
) -> dict:
    """Recent positions of a vehicle, oldest first, as a LineString plus per-point times. Whoever
    may open the vehicle's card may see its track (a district officer: the vehicle of an alert
    raised in their district, issue 13)."""
    position = ports.live.get(vehicle_id)
    record = ports.vehicles.get(vehicle_id) or position
    if record is None or not _may_open(who, ports, {**record, "id": vehicle_id}, position):
        raise not_found("vehicle", vehicle_id)
    try:
        since_ms = parse_ts(int(since) if since and since.isdecimal() else since) if since else None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"since: {exc}") from None
    points = ports.live.track(vehicle_id, since_ms)
    return {
        "vehicle": vehicle_id,
        "coordinates": [[p["lng"], p["lat"]] for p in points],
        "times": [p["ts"] for p in points],
        "states": [p["state"] for p in points],
    }


@router.put("/{vehicle_id}")
def put_vehicle(vehicle_id: VehicleId, body: Vehicle, who: AdminUser, ports: PortsDep) -> Record:
    """Create or replace a vehicle (admin)."""
    if body.id != vehicle_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"body id {body.id!r} differs from the URL's"
        )
    record = body.model_dump()
    ports.vehicles.put(record)
    _restamp(ports, record)
    return record


def _restamp(ports, vehicle: Record) -> None:
    """A vehicle moved to another district: its latest position moves with it, or the old
    district would keep seeing it (and the new one not) until its next ping, for a parked or
    silent truck indefinitely."""
    position = ports.live.get(vehicle["id"])
    if position is None or position.get("district") == vehicle.get("district"):
        return
    moved = {**position, "district": vehicle.get("district"), "kind": vehicle.get("kind")}
    if ports.live.upsert(moved, parse_ts(position["ts"])):
        ports.bus.publish("positions", moved)


@router.delete("/{vehicle_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_vehicle(vehicle_id: VehicleId, who: AdminUser, ports: PortsDep) -> Response:
    """Remove a vehicle (admin)."""
    if not ports.vehicles.delete(vehicle_id):
        raise not_found("vehicle", vehicle_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
