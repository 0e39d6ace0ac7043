"""Size limits of one fence: its vertex count and the extent of its bounding box (buffers and
radii included). Checked on the GeoJSON as written, before the geofence loader builds anything,
so an oversized fence costs a walk over its coordinates and no more."""

from __future__ import annotations

import math
from typing import Any

KM_PER_DEGREE = 111.32  # along a meridian, and along the equator
MAX_DEPTH = 6  # a MultiPolygon's positions are 4 lists deep; a GeometryCollection adds more


class FenceTooLarge(ValueError):
    """A fence is over a size limit; the message names the limit and its setting."""


def measure(geometry: Any) -> tuple[int, tuple[float, float, float, float]]:
    """The vertex count and (west, south, east, north) box of a GeoJSON geometry.

    Walks iteratively with a depth bound, so hostile nesting cannot exhaust the stack.

    Raises
    ------
    ValueError
        A position that is not two or three finite numbers, or nesting beyond ``MAX_DEPTH``.

    Examples
    --------
    >>> measure({"type": "LineString", "coordinates": [[120.0, 31.0], [120.5, 31.2]]})
    (2, (120.0, 31.0, 120.5, 31.2))
    """
    count, west, south, east, north = 0, math.inf, math.inf, -math.inf, -math.inf
    stack: list[tuple[Any, int]] = [(geometry, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError("geometry nested too deeply")
        if isinstance(node, dict):
            if node.get("type") == "GeometryCollection":
                stack.extend((g, depth + 1) for g in node.get("geometries") or ())
            else:
                stack.append((node.get("coordinates"), depth + 1))
        elif isinstance(node, list) and node and not isinstance(node[0], list):
            if not 2 <= len(node) <= 3 or not all(_finite(v) for v in node):
                raise ValueError(f"bad position {node[:3]!r}")
            count += 1
            lng, lat = node[0], node[1]
            west, east, south, north = (
                min(west, lng),
                max(east, lng),
                min(south, lat),
                max(north, lat),
            )
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        else:
            raise ValueError("geometry coordinates must be nested lists of positions")
    if count == 0:
        raise ValueError("geometry has no positions")
    return count, (west, south, east, north)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def extent_km(box: tuple[float, float, float, float], margin_m: float = 0.0) -> float:
    """The larger of the box's width and height in km, plus ``2 * margin_m`` (a buffer)."""
    west, south, east, north = box
    mid = math.radians((south + north) / 2)
    width = (east - west) * KM_PER_DEGREE * math.cos(mid)
    height = (north - south) * KM_PER_DEGREE
    return max(width, height) + 2 * margin_m / 1000


def check_size(feature: dict, max_vertices: int, max_extent_km: float) -> None:
    """Refuse a fence Feature over ``max_vertices`` or ``max_extent_km`` across.

    Raises
    ------
    FenceTooLarge
        Naming the limit and the LANDUN_* setting that sets it.
    ValueError
        Malformed coordinates.
    """
    vertices, box = measure(feature.get("geometry"))
    if vertices > max_vertices:
        raise FenceTooLarge(
            f"{vertices:,} vertices, over the limit of {max_vertices:,} per fence "
            "(LANDUN_FENCE_MAX_VERTICES)"
        )
    props = feature.get("properties") or {}
    margin = max(_metres(props.get("buffer_m")), _metres(props.get("radius_m")))
    across = extent_km(box, margin)
    if across > max_extent_km:
        raise FenceTooLarge(
            f"{across:,.1f} km across (buffer and radius included), over the limit of "
            f"{max_extent_km:g} km (LANDUN_FENCE_MAX_EXTENT_KM)"
        )


def _metres(value: Any) -> float:
    return float(value) if _finite(value) and value > 0 else 0.0
