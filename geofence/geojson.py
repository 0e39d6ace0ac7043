"""Checks of GeoJSON geometry objects (RFC 7946) before they become shapely geometries.

Every fault is reported as a message naming where it is (``coordinates[0][3]``) instead of
letting shapely fail or, worse, silently accept a swapped or unclosed ring.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")
# How deeply positions are nested in each geometry type's "coordinates".
DEPTH = {"Point": 0, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
_WHERE = re.compile(r"^(.*)\[(\S+) (\S+)\]$")


def parse_geometry(
    geom: Any, allowed: tuple[str, ...] | None, context: str, out: list[str]
) -> BaseGeometry | None:
    """Check a GeoJSON geometry mapping and build it, 2-D, as given.

    Parameters
    ----------
    geom : Any
        The Feature's ``geometry`` member.
    allowed : tuple of str or None
        Geometry types allowed here (None: any supported type).
    context : str
        What ``allowed`` comes from, for the message (e.g. ``"kind corridor"``).
    out : list of str
        Problems are appended here.

    Returns
    -------
    shapely geometry or None
        None when there was any problem.
    """
    if not isinstance(geom, Mapping) or not isinstance(geom.get("type"), str):
        out.append("missing geometry (a GeoJSON geometry object with a 'type')")
        return None
    gtype = geom["type"]
    if allowed is not None and gtype not in allowed:
        out.append(f"geometry {gtype} is not allowed for {context} (use {' or '.join(allowed)})")
        return None
    if gtype not in DEPTH:
        out.append(f"unsupported geometry type {gtype!r}")
        return None
    before = len(out)
    positions = _check_structure(gtype, geom.get("coordinates"), out)
    if len(out) > before or not _check_positions(positions, out):
        return None
    given = shapely.force_2d(shape(geom))
    return given if check_shape(given, out) else None


def _check_structure(gtype: str, coords: Any, out: list[str]) -> list[tuple[str, Any]]:
    """Check nesting, ring closure and sizes; return ``(path, position)`` pairs."""
    positions: list[tuple[str, Any]] = []

    def walk(node: Any, level: int, path: str) -> None:
        if level == 0:
            positions.append((path, node))
            return
        if not isinstance(node, list | tuple) or not node:
            out.append(f"{path} must be a non-empty list")
            return
        if gtype in POLYGONS and level == 1:
            if len(node) < 4:
                out.append(f"ring {path} has {len(node)} positions; a closed ring needs 4 or more")
            elif _as_tuple(node[0]) != _as_tuple(node[-1]):
                out.append(f"ring {path} is not closed (first position != last)")
        if gtype in LINES and level == 1 and len(node) < 2:
            out.append(f"line {path} has {len(node)} position; a line needs at least 2")
        for i, child in enumerate(node):
            walk(child, level - 1, f"{path}[{i}]")

    walk(coords, DEPTH[gtype], "coordinates")
    return positions


def _as_tuple(pos: Any) -> Any:
    return tuple(pos) if isinstance(pos, list | tuple) else pos


def _check_positions(positions: list[tuple[str, Any]], out: list[str]) -> bool:
    """Report bad positions, one line per kind of fault: its first place, and the count."""
    faults: dict[str, list[str]] = {}
    for path, pos in positions:
        fault = position_fault(pos)
        if fault:
            faults.setdefault(fault[0], []).append(f"{path}: {fault[1]}")
    for found in faults.values():
        more = f" ({len(found)} positions like this)" if len(found) > 1 else ""
        out.append(found[0] + more)
    return not faults


def position_fault(pos: Any) -> tuple[str, str] | None:
    """What is wrong with a GeoJSON position ``[lng, lat(, alt)]``: (kind, message), or None."""
    numeric = isinstance(pos, list | tuple) and 2 <= len(pos) <= 3
    numeric = numeric and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
    if not numeric:
        return "shape", f"position {pos!r} is not [lng, lat] numbers"
    lng, lat = pos[0], pos[1]
    if not all(math.isfinite(v) for v in pos):
        return "finite", f"non-finite coordinate in {list(pos)}"
    # A Chinese latitude in the longitude slot and a Chinese longitude in the latitude slot.
    if 18 <= lng <= 54 and 73 <= lat <= 135:
        return "swap", f"[{lng}, {lat}] looks like [lat, lng] (GeoJSON positions are [lng, lat])"
    if not (-180 <= lng <= 180 and -90 <= lat <= 90):
        return "range", f"[{lng}, {lat}] is out of range (lng -180..180, lat -90..90)"
    return None


def check_shape(geom: BaseGeometry, out: list[str]) -> bool:
    """Polygons must be valid with an area, lines must have a length."""
    if geom.geom_type in POLYGONS:
        if not geom.is_valid:
            out.append(f"invalid polygon: {explain(geom)}")
            return False
        if geom.area == 0:
            out.append("polygon has zero area")
            return False
    if geom.geom_type in LINES and geom.length == 0:
        out.append("line has zero length")
        return False
    return True


def explain(geom: BaseGeometry) -> str:
    """shapely's reason for invalidity, with its location spelt as lng/lat."""
    reason = shapely.is_valid_reason(geom)
    match = _WHERE.match(reason)
    if not match:
        return reason
    what, lng, lat = match.groups()
    return f"{what} at lng {float(lng):.6f}, lat {float(lat):.6f}"
