"""An exact, slow oracle for "does this fence cover this point" that shares nothing with the index.

The index (``geofence.raster.locate``) counts even-odd ray crossings in floating point and hands
points within 1e-9° of an edge to ``shapely.intersects_xy``; the old oracle was that same shapely
call, so near edges shapely was checked against itself (issue 15). This oracle decides every point
on its own, with no tolerance and no shapely predicate:

- every float coordinate is turned *exactly* into an integer (scaled by 2**1074, so every finite
  double is a whole number of units) and all arithmetic is Python's unbounded ``int``;
- a point is on a ring when the orientation of (edge start, edge end, point) is exactly zero and
  the point lies in the edge's closed box;
- otherwise it is inside a ring when the ring's *winding number* around it is non-zero (Sunday's
  upward/downward edge rule): another algorithm than the index's parity of crossings to the right.

A point is covered by a Polygon when it is on any of its rings, or inside the shell and inside no
hole; by a MultiPolygon when any part covers it. That is ``Fence.area.covers(point)``, the index's
contract ("a point on the boundary is inside").
"""

from __future__ import annotations

from collections.abc import Iterable

from shapely.geometry.base import BaseGeometry

SCALE_BITS = 1074  # 2**-1074 is the smallest positive double: every double is a multiple of it


def exact(v: float) -> int:
    """``v`` as a whole number of 2**-1074 units, exactly."""
    num, den = float(v).as_integer_ratio()  # den is a power of two no larger than 2**1074
    return num * ((1 << SCALE_BITS) // den)


Ring = tuple[tuple[int, ...], tuple[int, ...]]  # exact xs, exact ys, closed (first == last)


def _ring(coords: Iterable[tuple[float, float]]) -> Ring:
    pts = [(exact(x), exact(y)) for x, y in coords]
    return tuple(p[0] for p in pts), tuple(p[1] for p in pts)


def _winding(ring: Ring, px: int, py: int) -> int | None:
    """Winding number of the closed ring around (px, py); None when the point is on the ring."""
    xs, ys = ring
    wn = 0
    for v in range(len(xs) - 1):
        ax, ay, bx, by = xs[v], ys[v], xs[v + 1], ys[v + 1]
        turn = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        if turn == 0 and min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by):
            return None
        if ay <= py:
            if by > py and turn > 0:  # an upward edge with the point on its left
                wn += 1
        elif by <= py and turn < 0:  # a downward edge with the point on its right
            wn -= 1
    return wn


class ExactArea:
    """A fence's matched area (Polygon or MultiPolygon), held as exact integer rings.

    Parameters
    ----------
    area : Polygon or MultiPolygon
        Only its coordinates are read.
    """

    def __init__(self, area: BaseGeometry):
        parts = area.geoms if area.geom_type == "MultiPolygon" else [area]
        self.parts = [
            (_ring(p.exterior.coords), [_ring(h.coords) for h in p.interiors]) for p in parts
        ]
        x0, y0, x1, y1 = area.bounds
        self.box = (exact(x0), exact(y0), exact(x1), exact(y1))

    def covers(self, lng: float, lat: float) -> bool:
        """True when the point is inside the area or on its boundary, decided exactly."""
        px, py = exact(lng), exact(lat)
        x0, y0, x1, y1 = self.box
        if not (x0 <= px <= x1 and y0 <= py <= y1):
            return False
        return any(self._part_covers(shell, holes, px, py) for shell, holes in self.parts)

    @staticmethod
    def _part_covers(shell: Ring, holes: list[Ring], px: int, py: int) -> bool:
        wn = _winding(shell, px, py)
        if wn is None:
            return True
        if wn == 0:
            return False
        for hole in holes:
            wn = _winding(hole, px, py)
            if wn is None:
                return True  # a hole's ring is the area's boundary: covered
            if wn != 0:
                return False
        return True
