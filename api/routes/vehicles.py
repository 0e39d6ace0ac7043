"""Registered vehicles and their recent tracks; district officers see their district's only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminUser, CurrentUser, PortsDep, not_found, visible_or_404
from api.ids import Id, id_path
from api.ports import Record
from stream.eventtime import parse_ts

router = APIRouter(prefix="/api/vehicles", tags=["vehicles"])
VehicleId = Annotated[str, id_path("vehicle")]


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
    who: CurrentUser, ports: PortsDep, kind: str | None = None, company: str | None = None
) -> list[Record]:
    """Vehicles in the caller's scope."""
    return [
        v
        for v in ports.vehicles.list()
        if who.sees(v.get("district"))
        and (kind is None or v.get("kind") == kind)
        and (company is None or v.get("company") == company)
    ]


@router.get("/{vehicle_id}")
def get_vehicle(vehicle_id: VehicleId, who: CurrentUser, ports: PortsDep) -> Record:
    """One vehicle with its latest position."""
    record = ports.vehicles.get(vehicle_id)
    visible_or_404(who, record, record and record.get("district"), "vehicle", vehicle_id)
    return {**record, "position": ports.live.get(vehicle_id)}


@router.get("/{vehicle_id}/track")
def vehicle_track(
    vehicle_id: VehicleId,
    who: CurrentUser,
    ports: PortsDep,
    since: str | None = Query(None, description="ISO 8601 with offset, or epoch ms"),
) -> dict:
    """Recent positions of a vehicle, oldest first, as a LineString plus per-point times."""
    record = ports.vehicles.get(vehicle_id) or ports.live.get(vehicle_id)
    visible_or_404(who, record, record and record.get("district"), "vehicle", vehicle_id)
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
