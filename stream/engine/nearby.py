"""Metric distances from a vehicle to the places around it (issue 11).

The per-ping path only asks "which fences cover this point" (the index). A few rules need more,
and only in rare moments: whether a fix that left a terminal is still within ``gate_drift_m`` of
its boundary (GPS drift at a gate), whether a loaded stop is within ``queue_reach_m`` of a
terminal (a queue at its gate), how far a deviating truck is off its corridor, and which known
place is nearest to a suspected dump (evidence). :class:`Nearby` answers those in metres on the
WGS-84 ellipsoid (``geofence.metric``), building its caches on first use: grown areas, prepared
for point tests, and a tree of the places in a local metric plane to find the nearest ones.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from geofence.metric import WGS84_A, WGS84_F, LocalProjection
from geofence.model import FenceKind

M_PER_DEG = 111_195.0
NEAREST_REACH_M = 5000.0  # evidence: no "nearest place" farther than this
_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
_SLACK = 1.02  # the plane's metres are within 1 % of the ellipsoid's across the service area
# Places a stop can be "at" (everything but corridors and restricted zones).
_PLACES = frozenset(
    (
        FenceKind.SITE,
        FenceKind.TRANSFER,
        FenceKind.TERMINAL,
        FenceKind.PRODUCER,
        FenceKind.PLANT,
        FenceKind.DEPOT,
    )
)
_UNLOAD = frozenset((FenceKind.TRANSFER, FenceKind.TERMINAL))
_FEW = 64  # up to this many fences of the kinds asked: test their boxes in Python first


class Nearby:
    """Distances in metres from points to the fences of an :class:`EngineContext`.

    Parameters
    ----------
    fences : dict
        Fence id -> :class:`geofence.model.Fence` (the context's, after a refresh).
    lat0 : float
        Latitude of the service area's middle (the local plane's scale).
    """

    def __init__(self, fences: dict, lat0: float):
        self.fences = fences
        self.m_lng = M_PER_DEG * math.cos(math.radians(lat0))
        self._planes: dict[str, Plane] = {}
        self._trees: dict[frozenset, tuple[shapely.STRtree | None, list[str], np.ndarray]] = {}
        self._boxes: dict[frozenset, list] = {}  # kinds -> their boxes, when only a few

    def within(self, fid: str, metres: float, lat: float, lng: float) -> bool:
        """True when (lat, lng) is inside fence ``fid`` or within ``metres`` of its boundary."""
        return self.distance(fid, lat, lng) <= metres

    def distance(self, fid: str, lat: float, lng: float) -> float:
        """Metres from (lat, lng) to fence ``fid``'s area (0 inside)."""
        plane = self._planes.get(fid)
        if plane is None:
            fence = self.fences[fid]
            if fence.kind is FenceKind.CORRIDOR and fence.source is not None and fence.buffer_m:
                # the corridor is its centre line grown by buffer_m: measure off the line
                # (a few vertices, not the hundreds of its grown outline)
                plane = Plane(fence.source, fence.buffer_m)
            else:
                plane = Plane(fence.area)
            self._planes[fid] = plane
        return plane.distance(lat, lng)

    def unload_within(self, lat: float, lng: float, metres: float) -> list[str]:
        """Ids of the terminals and transfer points within ``metres`` of (lat, lng), by id."""
        return [
            f
            for f in self._candidates(_UNLOAD, lat, lng, metres)
            if self.within(f, metres, lat, lng)
        ]

    def places_within(self, kinds: frozenset, lat: float, lng: float, metres: float) -> list[str]:
        """Ids of the fences of ``kinds`` covering (lat, lng) or within ``metres`` of their
        boundary, by id (signal lost in a dock, ``rules/signal.py``)."""
        return [
            f for f in self._candidates(kinds, lat, lng, metres) if self.within(f, metres, lat, lng)
        ]

    def nearest_place(self, lat: float, lng: float) -> dict | None:
        """The nearest known place (site, transfer, terminal, producer, plant, depot) to
        (lat, lng): ``{"fence", "kind", "distance_m"}``, or None when none is within
        ``NEAREST_REACH_M``. Ties go to the smaller id."""
        tree, ids, bounds = self._tree(_PLACES)
        if tree is None:
            return None
        idx = np.sort(tree.query(self._box(lat, lng, NEAREST_REACH_M)))
        if not len(idx):
            return None
        # On the plane tangent at the point (the ellipsoid's radii there): within centimetres
        # up to 1 km, a metre at 5 km; evidence, not a threshold. A place lies in its box, so
        # it is no farther than its box's far corner: only boxes nearer than the nearest far
        # corner can hold the nearest place (in a city centre, a few of hundreds).
        scale = np.array(_metres_per_degree(lat))
        box = bounds[idx]
        dx = np.maximum(np.maximum(box[:, 0] - lng, lng - box[:, 2]), 0.0) * scale[0]
        dy = np.maximum(np.maximum(box[:, 1] - lat, lat - box[:, 3]), 0.0) * scale[1]
        fx = np.maximum(np.abs(box[:, 0] - lng), np.abs(box[:, 2] - lng)) * scale[0]
        fy = np.maximum(np.abs(box[:, 1] - lat), np.abs(box[:, 3] - lat)) * scale[1]
        idx = idx[np.hypot(dx, dy) <= np.hypot(fx, fy).min() * _SLACK]
        ids = [ids[i] for i in idx.tolist()]  # still by id (the tree's order)
        areas = np.array([self.fences[f].area for f in ids], dtype=object)
        local = shapely.transform(areas, lambda c: (c - (lng, lat)) * scale)
        dist = shapely.distance(local, shapely.Point(0.0, 0.0))
        k = int(np.argmin(dist))  # ids are sorted: the smaller id on a tie
        d, fid = float(dist[k]), ids[k]
        if d > NEAREST_REACH_M:
            return None
        return {"fence": fid, "kind": self.fences[fid].kind.value, "distance_m": round(d, 1)}

    def _candidates(self, kinds: frozenset, lat: float, lng: float, metres: float) -> list[str]:
        """Fences of ``kinds`` whose box lies within about ``metres`` of the point, by id."""
        tree, ids, bounds = self._tree(kinds)
        if tree is None:
            return []
        reach = metres * _SLACK
        dlat, dlng = reach / M_PER_DEG, reach / self.m_lng
        boxes = self._boxes.get(kinds)
        if boxes is None:
            boxes = self._boxes[kinds] = bounds.tolist() if len(ids) <= _FEW else []
        if boxes:  # a few places (terminals): no box near is the common answer, in plain floats
            x0, y0, x1, y1 = lng - dlng, lat - dlat, lng + dlng, lat + dlat
            if not any(b[0] <= x1 and x0 <= b[2] and b[1] <= y1 and y0 <= b[3] for b in boxes):
                return []
        return sorted(ids[i] for i in tree.query(self._box(lat, lng, metres)).tolist())

    def _box(self, lat: float, lng: float, metres: float):
        """A box around the point reaching about ``metres`` (with the plane's margin)."""
        reach = metres * _SLACK
        dlat, dlng = reach / M_PER_DEG, reach / self.m_lng
        return shapely.box(lng - dlng, lat - dlat, lng + dlng, lat + dlat)

    def _tree(self, kinds: frozenset) -> tuple[shapely.STRtree | None, list[str], np.ndarray]:
        """The fences of ``kinds`` (ids sorted), a tree of their boxes, and the boxes."""
        built = self._trees.get(kinds)
        if built is None:
            ids = sorted(fid for fid, f in self.fences.items() if f.kind in kinds)
            tree, bounds = None, np.empty((0, 4))
            if ids:
                bounds = shapely.bounds(np.array([self.fences[f].area for f in ids], dtype=object))
                tree = shapely.STRtree(shapely.box(*bounds.T))
            built = self._trees[kinds] = (tree, ids, bounds)
        return built


class Plane:
    """One fence on the transverse Mercator plane centred on it (``geofence.metric``), where
    distances are metres on the ellipsoid, with a fast way to put single points there.

    ``LocalProjection.forward`` costs ~25 µs for one point (numpy on 0-d arrays); here a point
    goes through a cubic polynomial in (Δlng, Δlat) fitted once to that projection over ±0.3°
    (~30 km) around the centre: within a centimetre of it there (tests/stream/engine/test_nearby).
    """

    __slots__ = ("lng0", "lat0", "geom", "grown", "cx", "cy", "segments")

    def __init__(self, geom, grown: float = 0.0):
        projection = LocalProjection.centred_on(geom)
        self.lng0, self.lat0 = projection.lng0, projection.lat0
        self.geom = projection.project(geom)
        self.grown = grown  # the fence is ``geom`` grown by this many metres
        x, y = projection.forward(self.lng0 + _DL, self.lat0 + _DP)
        self.cx = (_FIT @ x).tolist()  # least squares, the same design for every fence
        self.cy = (_FIT @ y).tolist()
        # A line (a corridor's centre line: a few vertices) is measured here, in plain floats;
        # shapely's call and point costs more than the arithmetic.
        self.segments = None
        if self.geom.geom_type == "LineString":
            c = shapely.get_coordinates(self.geom).tolist()
            self.segments = [(*a, *b) for a, b in zip(c, c[1:], strict=False)]

    def xy(self, lat: float, lng: float) -> tuple[float, float]:
        """(lat, lng) on this plane, metres."""
        a, b = lng - self.lng0, lat - self.lat0
        aa, ab, bb = a * a, a * b, b * b
        c, d = self.cx, self.cy
        x = c[0] * a + c[1] * b + c[2] * aa + c[3] * ab + c[4] * bb
        x += c[5] * aa * a + c[6] * aa * b + c[7] * a * bb + c[8] * bb * b
        y = d[0] * a + d[1] * b + d[2] * aa + d[3] * ab + d[4] * bb
        y += d[5] * aa * a + d[6] * aa * b + d[7] * a * bb + d[8] * bb * b
        return x, y

    def distance(self, lat: float, lng: float) -> float:
        """Metres from (lat, lng) to the fence (0 inside)."""
        x, y = self.xy(lat, lng)
        segments = self.segments
        if segments is None:
            d = float(shapely.distance(self.geom, shapely.Point(x, y)))
        else:  # the nearest segment, inline: a deviating truck measures every ping (issue 11)
            d = math.inf
            hypot = math.hypot
            for x0, y0, x1, y1 in segments:
                dx, dy = x1 - x0, y1 - y0
                n = dx * dx + dy * dy
                t = 0.0 if n == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / n))
                h = hypot(x - x0 - t * dx, y - y0 - t * dy)
                if h < d:
                    d = h
        return max(0.0, d - self.grown)


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude and latitude at ``lat`` on WGS-84."""
    s = math.sin(math.radians(lat))
    w = math.sqrt(1.0 - _E2 * s * s)
    east = WGS84_A / w * math.cos(math.radians(lat))
    north = WGS84_A * (1.0 - _E2) / w**3
    return east * math.pi / 180.0, north * math.pi / 180.0


def _terms(a, b):
    return np.column_stack([a, b, a * a, a * b, b * b, a * a * a, a * a * b, a * b * b, b * b * b])


# The fitting grid: ±0.3 degrees around a fence's centre, and its least-squares solver.
_DL, _DP = (g.ravel() for g in np.meshgrid(np.linspace(-0.3, 0.3, 7), np.linspace(-0.3, 0.3, 7)))
_FIT = np.linalg.pinv(_terms(_DL, _DP))
