"""Fences as GeoJSON Features: everyone signed in reads them (they are the map's reference
layer, and corridors cross districts); only admins write. Writes are validated by the geofence
core's loader, and its message names the problem (422)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Response, status
from shapely.geometry import mapping

from api.deps import AdminUser, CurrentUser, PortsDep, not_found
from api.ports import Record

router = APIRouter(prefix="/api/fences", tags=["fences"])
log = logging.getLogger(__name__)
KINDS = ("site", "transfer", "terminal", "producer", "plant", "restricted", "depot", "corridor")
FeatureBody = Body(..., description="A GeoJSON Feature with id and properties.kind")


def _loader():
    try:
        return importlib.import_module("geofence.loader").load_fences
    except (ImportError, AttributeError):  # the loader lands with the geofence core
        return None


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def validate_feature(feature: Any, fence_id: str | None = None) -> Record:
    """Check a fence Feature; returns it. Raises 422 naming the problem."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _invalid("body must be a GeoJSON Feature")
    ident = feature.get("id", fence_id)
    if not isinstance(ident, str) or not ident or len(ident) > 128:
        raise _invalid("feature id must be a non-empty string of at most 128 characters")
    if fence_id is not None and ident != fence_id:
        raise _invalid(f"feature id {ident!r} differs from the URL's {fence_id!r}")
    props = feature.get("properties")
    if not isinstance(props, dict) or props.get("kind") not in KINDS:
        got = props.get("kind") if isinstance(props, dict) else None
        raise _invalid(f"fence {ident!r}: properties.kind {got!r} is not one of {', '.join(KINDS)}")
    if not isinstance(feature.get("geometry"), dict):
        raise _invalid(f"fence {ident!r}: geometry missing")
    record = {**feature, "id": ident}
    load = _loader()
    if load is not None:
        try:
            load({"type": "FeatureCollection", "features": [record]})
        except (ValueError, TypeError, KeyError) as exc:
            raise _invalid(f"fence {ident!r}: {exc}") from None
    return record


def _collection(features: list[Record]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


@router.get("")
def list_fences(who: CurrentUser, ports: PortsDep, kind: str | None = None) -> dict[str, Any]:
    """All fences (optionally one kind) as a FeatureCollection, as they were written."""
    rows = ports.fences.list()
    return _collection([f for f in rows if kind is None or f["properties"].get("kind") == kind])


@router.get("/areas")
def fence_areas(who: CurrentUser, ports: PortsDep) -> dict[str, Any]:
    """The matched areas in WGS-84 (corridors buffered, datums converted) for drawing."""
    features = ports.fences.list()
    load = _loader()
    if load is None or not features:
        return _collection(features)
    try:
        fences = load(_collection(features))
    except (ValueError, TypeError, KeyError):
        # Reference data loaded in bulk was not checked fence by fence: draw what is valid.
        fences = []
        for feature in features:
            try:
                fences.extend(load(_collection([feature])))
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("fence %r not drawable: %s", feature.get("id"), exc)
    return _collection(
        [
            {
                "type": "Feature",
                "id": f.id,
                "geometry": mapping(f.area),
                "properties": {"kind": f.kind.value, "name": f.name, "district": f.district},
            }
            for f in fences
        ]
    )


@router.get("/{fence_id}")
def get_fence(fence_id: str, who: CurrentUser, ports: PortsDep) -> dict[str, Any]:
    """One fence."""
    found = ports.fences.get(fence_id)
    if found is None:
        raise not_found("fence", fence_id)
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
def create_fence(who: AdminUser, ports: PortsDep, feature: Any = FeatureBody) -> dict[str, Any]:
    """Add a fence (admin); 409 if the id exists."""
    record = validate_feature(feature)
    if ports.fences.get(record["id"]) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"fence {record['id']!r} already exists")
    ports.fences.put(record)
    ports.bus.publish("reference", {"table": "fences", "op": "put", "record": record})
    return record


@router.put("/{fence_id}")
def replace_fence(
    fence_id: str, who: AdminUser, ports: PortsDep, feature: Any = FeatureBody
) -> dict[str, Any]:
    """Create or replace a fence (admin)."""
    record = validate_feature(feature, fence_id)
    ports.fences.put(record)
    ports.bus.publish("reference", {"table": "fences", "op": "put", "record": record})
    return record


@router.delete("/{fence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fence(fence_id: str, who: AdminUser, ports: PortsDep) -> Response:
    """Remove a fence (admin)."""
    if not ports.fences.delete(fence_id):
        raise not_found("fence", fence_id)
    ports.bus.publish("reference", {"table": "fences", "op": "delete", "id": fence_id})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
