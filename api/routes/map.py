"""What the live map page needs to draw: the basemap, the start view, the districts (issue 13).

The basemap is one of three (docs/map.md):

- ``raster``: tiles from ``LANDUN_TILE_URL`` (Amap, Tianditu, Tencent...) in the datum
  ``LANDUN_TILE_DATUM`` says; the page shifts every WGS-84 position to GCJ-02 on GCJ-02 tiles;
- ``vector``: road lines from the GeoJSON file ``LANDUN_BASEMAP_FILE`` (``landun demo`` writes
  the simulator's roads there), served by ``GET /api/map/basemap``;
- ``none``: a plain background.
"""

from __future__ import annotations

import math
import mimetypes
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import CurrentUser, PortsDep, SettingsDep
from api.ports import Ports
from api.settings import Settings

router = APIRouter(prefix="/api", tags=["map"])

# MapLibre 6 is ES modules (api/static/vendor/maplibre-gl/*.mjs): a browser runs a module script
# only when it is served as JavaScript, and Python's own table lacks .mjs on some systems.
mimetypes.add_type("text/javascript", ".mjs")

# Wuxi's districts and county-level cities (docs/domain.md), Chinese name → English.
DISTRICTS = {
    "梁溪": "Liangxi",
    "锡山": "Xishan",
    "惠山": "Huishan",
    "滨湖": "Binhu",
    "新吴": "Xinwu",
    "经开": "Jingkai",
    "江阴": "Jiangyin",
    "宜兴": "Yixing",
}
BASEMAP_URL = "/api/map/basemap"
# A district officer's start view fits their district's fences into about this many pixels of
# map width (a 1,000 px map shows the whole district with a margin), within these zooms.
VIEW_FIT_PX = 1000
VIEW_ZOOMS = (9, 14)


@router.get("/map-config")
def map_config(who: CurrentUser, settings: SettingsDep, ports: PortsDep) -> dict:
    """Basemap and initial view for the caller (``view``: their district's fences for a district
    officer, else the configured centre). The ``tile_*``, ``center`` and ``zoom`` keys stay for
    older pages."""
    return {
        "tile_url": settings.tile_url,
        "tile_datum": settings.tile_datum,
        "tile_attribution": settings.tile_attribution,
        "center": list(settings.map_center),
        "zoom": settings.map_zoom,
        "basemap": basemap_of(settings),
        "view": start_view(who.district, settings, ports),
        "districts": DISTRICTS,
        # The page labels data time 模拟数据时间 in the demo (issue 13, "one clock").
        "demo": settings.demo,
        "user": {"username": who.username, "role": who.role.value, "district": who.district},
    }


def basemap_of(settings: Settings) -> dict[str, Any]:
    """The basemap the page draws: raster tiles when a tile URL is set, else the vector roads
    when the basemap file exists, else none."""
    if settings.tile_url:
        return {
            "kind": "raster",
            "tiles": [settings.tile_url],
            "datum": settings.tile_datum,
            "attribution": settings.tile_attribution,
        }
    if settings.basemap_file is not None and settings.basemap_file.is_file():
        return {"kind": "vector", "url": BASEMAP_URL}
    return {"kind": "none"}


def start_view(district: str | None, settings: Settings, ports: Ports) -> dict[str, Any]:
    """``{"center": [lat, lng], "zoom": int}``: the bbox centre of ``district``'s fences, zoomed
    to fit them; the configured centre and zoom for a city-wide caller or a district without
    fences."""
    box = _fence_bbox(ports.fences.list(), district) if district else None
    if box is None:
        return {"center": list(settings.map_center), "zoom": settings.map_zoom}
    west, south, east, north = box
    lat = (south + north) / 2
    # Web Mercator at MapLibre's 512 px tiles: the world is 512 * 2^z pixels wide.
    span = max(east - west, (north - south) / max(math.cos(math.radians(lat)), 1e-6), 1e-6)
    zoom = math.floor(math.log2(VIEW_FIT_PX * 360 / (512 * span)))
    zoom = min(max(zoom, VIEW_ZOOMS[0]), VIEW_ZOOMS[1])
    return {"center": [lat, (west + east) / 2], "zoom": zoom}


def _fence_bbox(features: list[dict], district: str) -> tuple[float, ...] | None:
    """[west, south, east, north] of the fences of ``district`` as drawn (a GCJ-02 fence is
    some 500 m off: nothing for a start view), None when it has none."""
    lngs: list[float] = []
    lats: list[float] = []
    for f in features:
        if (f.get("properties") or {}).get("district") != district:
            continue
        for lng, lat in _points((f.get("geometry") or {}).get("coordinates")):
            lngs.append(lng)
            lats.append(lat)
    if not lngs:
        return None
    return min(lngs), min(lats), max(lngs), max(lats)


def _points(coords: Any):
    """Every [lng, lat] position in a GeoJSON coordinates array, at any nesting."""
    if isinstance(coords, list | tuple) and coords:
        if isinstance(coords[0], int | float) and len(coords) >= 2:
            yield float(coords[0]), float(coords[1])
        else:
            for c in coords:
                yield from _points(c)


class _BasemapCache:
    """The basemap file's bytes, read again only when its path, size or mtime change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.body = b""

    def get(self, path: Path) -> bytes:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self.lock:
            if key != self.key:
                self.body, self.key = path.read_bytes(), key
            return self.body


_BASEMAP = _BasemapCache()


@router.get("/map/basemap", response_class=Response)
def basemap(who: CurrentUser, settings: SettingsDep) -> Response:
    """The vector basemap: a GeoJSON FeatureCollection of road LineStrings
    (``properties.class``: ``arterial`` or ``road``), as the basemap file holds it; 404 when
    there is none."""
    path = settings.basemap_file
    try:
        body = _BASEMAP.get(path) if path is not None else None
    except OSError:
        body = None
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no basemap file")
    return Response(body, media_type="application/geo+json")
