"""Latest vehicle positions: by bounding box and district, nearest to a point, counts by state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import CurrentUser, PortsDep, scope_district
from api.ports import BBox, Record
from stream.live.projection import tally

router = APIRouter(prefix="/api/live", tags=["live"])


def parse_bbox(text: str | None) -> BBox | None:
    """Parse ``west,south,east,north`` (WGS-84 degrees); 422 naming the problem."""
    if not text:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "bbox must be west,south,east,north"
        ) from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "bbox must satisfy -180<=west<=east<=180 and -90<=south<=north<=90",
        )
    return west, south, east, north


@router.get("")
def live_positions(
    who: CurrentUser,
    ports: PortsDep,
    bbox: str | None = Query(None, description="west,south,east,north"),
    district: str | None = None,
    state: str | None = None,
) -> list[Record]:
    """Latest position of every vehicle in scope (and box)."""
    rows = ports.live.query(scope_district(who, district), parse_bbox(bbox))
    return [p for p in rows if state is None or p["state"] == state]


@router.get("/nearest")
def nearest(
    who: CurrentUser,
    ports: PortsDep,
    lat: float = Query(ge=-90, le=90),
    lng: float = Query(ge=-180, le=180),
    k: int = Query(10, ge=1, le=200),
    district: str | None = None,
) -> list[Record]:
    """The ``k`` vehicles in scope nearest to a WGS-84 point."""
    return ports.live.nearest(lat, lng, k, scope_district(who, district))


@router.get("/counts")
def counts(who: CurrentUser, ports: PortsDep, district: str | None = None) -> dict[str, Any]:
    """The big-screen counters of the vehicles in scope: online/offline and moving/parked as
    splits, loaded and violating as flags (``stream.live.projection.tally``, the websocket's
    ``counts`` message too; issue 13)."""
    return tally(ports.live.query(scope_district(who, district)))
