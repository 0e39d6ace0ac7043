"""The areas who-was-here asks about: a circle or a GeoJSON polygon, each with its H3 cover and
its exact inside test (issue 12).

The cover is a set of ``CELL_RESOLUTION`` cells that holds every point of the area: the query
reads the ``cells`` rows of those cells only, then keeps the fixes the exact test puts inside.
Areas are bounded (a 5 km circle, a polygon of 50 km² and 10,000 vertices) so that a cover is a
few thousand cells at most and a query never reads a city.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely

from geofence.metric import LocalProjection, distance_m
from replay.duck import ArchiveQueryError
from replay.tables import CELL_RESOLUTION

MAX_RADIUS_M = 5_000.0  # a 5 km circle is ~1,700 res-9 cells; a district needs --polygon
MAX_AREA_M2 = 50e6  # 50 km²: a street office's patch or a small district, ~500 res-9 cells
MAX_VERTICES = 10_000  # as a drawn fence; beyond it the polygon is a data file, not an area
MAX_EXTENT_M = 30_000.0  # a thin 50 km² sliver could otherwise run across the province
M_PER_DEG = 111_000.0  # metres per degree of latitude (a degree of longitude is shorter here)


@dataclass(frozen=True, slots=True)
class Circle:
    """Every point within ``radius_m`` (WGS-84 ellipsoid) of ``lat``, ``lng``."""

    lat: float
    lng: float
    radius_m: float

    def cells(self) -> list[int]:
        """The cover: the H3 disk of :func:`disk_cells`."""
        return disk_cells(self.lat, self.lng, self.radius_m)

    def distance(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Metres from the centre."""
        return np.asarray(distance_m(self.lat, self.lng, lat, lng), dtype=float)

    def inside(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """True for positions within the radius."""
        return self.distance(lat, lng) <= self.radius_m


@dataclass(frozen=True, slots=True)
class Polygon:
    """Every point the polygon covers, its boundary included, edges straight in lng/lat (as a
    GeoJSON polygon is drawn and as the fence index reads one)."""

    shape: shapely.Polygon

    def cells(self) -> list[int]:
        """The cover: :func:`polygon_cells`."""
        return polygon_cells(self.shape)

    def distance(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Metres to the polygon: 0 inside (issue 12: ``closest_m`` is 0.0 for a hit)."""
        return np.where(self.inside(lat, lng), 0.0, np.inf)

    def inside(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """True for positions the polygon covers (boundary included)."""
        return np.asarray(shapely.intersects_xy(self.shape, lng, lat), dtype=bool)


Area = Circle | Polygon


def circle(lat: Any, lng: Any, radius_m: Any) -> Circle:
    """A checked :class:`Circle`.

    Raises
    ------
    ArchiveQueryError
        Not numbers, not a WGS-84 position, a radius not in (0, :data:`MAX_RADIUS_M`].
    """
    try:
        lat, lng, radius_m = float(lat), float(lng), float(radius_m)
    except (TypeError, ValueError):
        raise ArchiveQueryError(
            f"lat {lat!r}, lng {lng!r}, radius {radius_m!r}: need numbers (WGS-84 degrees, metres)"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ArchiveQueryError(f"lat {lat}, lng {lng}: not a WGS-84 position (lat first)")
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ArchiveQueryError(
            f"radius {radius_m} m: must be more than 0 and at most {MAX_RADIUS_M:.0f} m; "
            "for a larger area query several circles or a polygon"
        )
    return Circle(lat, lng, radius_m)


def polygon(geometry: Any) -> Polygon:
    """A checked :class:`Polygon` from a GeoJSON Polygon geometry (WGS-84 ``[lng, lat]``).

    Raises
    ------
    ArchiveQueryError
        Not a GeoJSON Polygon, a bad position, more than :data:`MAX_VERTICES` vertices, an
        invalid shape (self-intersecting...), no area, more than :data:`MAX_AREA_M2` or
        :data:`MAX_EXTENT_M` across.

    Examples
    --------
    >>> square = {"type": "Polygon", "coordinates": [[[120.30, 31.49], [120.31, 31.49],
    ...           [120.31, 31.50], [120.30, 31.50], [120.30, 31.49]]]}
    >>> area = polygon(square)
    >>> area.inside(np.array([31.495, 31.51]), np.array([120.305, 120.305])).tolist()
    [True, False]
    """
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise ArchiveQueryError(
            f"polygon: expected a GeoJSON geometry of type Polygon, got {kind!r} "
            '(e.g. {"type": "Polygon", "coordinates": [[[lng, lat], ...]]})'
        )
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise ArchiveQueryError("polygon: coordinates must be a list of rings of [lng, lat]")
    count = sum(len(r) for r in rings)
    if count > MAX_VERTICES:
        raise ArchiveQueryError(
            f"polygon has {count} vertices, more than {MAX_VERTICES}; simplify it"
        )
    for ring in rings:
        for pos in ring:
            _position(pos)
        if len(ring) < 4:
            raise ArchiveQueryError(f"polygon ring of {len(ring)} positions: needs at least 4")
    shape = shapely.Polygon(rings[0], rings[1:])
    if not shape.is_valid:
        raise ArchiveQueryError(f"polygon is not valid ({shapely.is_valid_reason(shape)})")
    planar = LocalProjection.centred_on(shape).project(shape)
    x0, y0, x1, y1 = planar.bounds
    if planar.area <= 0:
        raise ArchiveQueryError("polygon has no area")
    if planar.area > MAX_AREA_M2 or max(x1 - x0, y1 - y0) > MAX_EXTENT_M:
        raise ArchiveQueryError(
            f"polygon of {planar.area / 1e6:.1f} km², {max(x1 - x0, y1 - y0) / 1000:.1f} km "
            f"across: at most {MAX_AREA_M2 / 1e6:.0f} km² and {MAX_EXTENT_M / 1000:.0f} km "
            "across; split the area into smaller polygons"
        )
    shapely.prepare(shape)
    return Polygon(shape)


def _position(pos: Any) -> None:
    ok = (
        isinstance(pos, list | tuple)
        and 2 <= len(pos) <= 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
        and all(math.isfinite(v) for v in pos)
    )
    if not ok or not (-180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
        raise ArchiveQueryError(
            f"polygon position {str(pos)[:60]}: need [lng, lat] in WGS-84 degrees (lng first)"
        )


def disk_cells(lat: float, lng: float, radius_m: float) -> list[int]:
    """The H3 cells (``CELL_RESOLUTION``, int64) that cover every point within ``radius_m``.

    A point within r of the centre lies in a cell whose centre is within r + 2e of the centre
    cell's (e: the cell edge, equal to its circumradius); cells k rings away have centres at
    least 1.5·e·k apart (the hexagon's inradius is e·√3/2, neighbour centres e·√3 apart), so k =
    ceil((r + 2e) / 1.5e) rings suffice; 10 % more allows for the grid's distortion.

    Examples
    --------
    >>> len(disk_cells(31.49, 120.31, 500))  # 4 rings
    61
    """
    centre = h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)
    edge = math.sqrt(2.0 * h3.cell_area(centre, "m^2") / (3.0 * math.sqrt(3.0)))
    k = math.ceil(1.1 * (radius_m + 2.0 * edge) / (1.5 * edge))
    return [h3.str_to_int(c) for c in h3.grid_disk(centre, k)]


def polygon_cells(shape: shapely.Polygon) -> list[int]:
    """The H3 cells (``CELL_RESOLUTION``, int64) that cover every point of ``shape``.

    A point inside lies in a cell C. Either C's centre is inside too (``h3.polygon_to_cells``
    finds C), or the boundary passes through C between the point and the centre. The boundary is
    sampled every half cell edge (vertices included), so a sample lies within a quarter edge of
    where it crosses C, and every point that close to C lies in C or a neighbour of C (the ring
    around a hexagon is at least √3 edges wide): the one-ring buffer around the centre cells and
    the sampled cells therefore holds C. That also covers a polygon thinner than a cell, which
    may hold no cell centre at all, and fixes on the boundary (issue 12).

    Examples
    --------
    >>> strip = shapely.Polygon([(120.30, 31.49), (120.32, 31.49), (120.32, 31.4901),
    ...                          (120.30, 31.4901)])  # 11 m wide: no cell centre inside
    >>> len(polygon_cells(strip)) > 20
    True
    """
    outer = [(lat, lng) for lng, lat, *_ in shape.exterior.coords]
    holes = [[(lat, lng) for lng, lat, *_ in r.coords] for r in shape.interiors]
    seeds = set(h3.polygon_to_cells(h3.LatLngPoly(outer, *holes), CELL_RESOLUTION))
    edge_m = h3.average_hexagon_edge_length(CELL_RESOLUTION, "m")
    boundary = shapely.segmentize(shape.boundary, edge_m / 2.0 / M_PER_DEG)
    for lng, lat in shapely.get_coordinates(boundary).tolist():
        seeds.add(h3.latlng_to_cell(lat, lng, CELL_RESOLUTION))
    cover: set[str] = set()
    for cell in seeds:
        cover.update(h3.grid_disk(cell, 1))
    return sorted(h3.str_to_int(c) for c in cover)
