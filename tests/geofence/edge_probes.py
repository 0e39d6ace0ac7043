"""Probes at 1e-8..1e-6° from fence edges and vertices, and a census of who decided them (issue 15).

The index decides a (point, fence) pair in one of three ways: an *interior* H3 cell (no test),
its own crossing test (``geofence.raster.locate``), or — for points within
``geofence.query.NEAR_EDGE`` (1e-9°) of an edge — ``shapely.intersects_xy``. Probes placed here sit
mostly 1e-8..1e-6° from an edge, where only the index's own arithmetic decides; a minority sit on
or within 1e-9° of the boundary so that the GEOS path is exercised too. :func:`geos_census` records
every pair the index hands to GEOS, so a test can require that its probes were in the large
majority decided by the index itself (and fail if the fallback silently grows back).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

import geofence.index
from geofence.index import FenceIndex
from geofence.model import Fence
from tests.geofence.exact import ExactArea

NEAR_D = (1e-8, 1e-6)  # degrees from an edge: decided by the index's own crossing test
HAIR_D = (1e-12, 5e-10)  # degrees from an edge: the index hands these to GEOS
EDGES_PER_RING = 24  # a 64-vertex circle gets probes on 24 of its edges, a square on each 6 times


def _rings(area: BaseGeometry) -> list[np.ndarray]:
    parts = area.geoms if area.geom_type == "MultiPolygon" else [area]
    out = []
    for p in parts:
        out.append(np.asarray(p.exterior.coords))
        out.extend(np.asarray(h.coords) for h in p.interiors)
    return out


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = lo_hi
    return 10.0 ** rng.uniform(math.log10(lo), math.log10(hi), n)


def ring_probes(ring: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) lng/lat probes around one closed ring.

    Per sampled edge: two points 1e-8..1e-6° off it (one per side). Per vertex: points
    1e-8..1e-6° away due east, west, north and south (a due east/west offset puts the point's
    crossing ray exactly through the vertex, the classic parity trap) and in a random
    direction, and a point 1e-6..1e-4° due west, whose ray runs through the vertex from
    farther away. For a quarter of the edges and vertices, a point a hair (< 5e-10°) off the
    edge, a point on the edge up to float rounding, and the vertex itself: these exercise the
    GEOS fallback.
    """
    a, b = ring[:-1], ring[1:]
    edges = np.flatnonzero(np.any(a != b, axis=1))
    if edges.shape[0] > EDGES_PER_RING:  # a sample of a long ring's edges
        keep = rng.choice(edges, EDGES_PER_RING, replace=False)
    else:  # every edge of a short ring, then random ones again up to EDGES_PER_RING
        keep = np.concatenate([edges, rng.choice(edges, EDGES_PER_RING - edges.shape[0])])
    a, b = a[keep], b[keep]
    d = b - a
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
    out = []
    for side in (1.0, -1.0):
        t = rng.uniform(0.02, 0.98, (a.shape[0], 1))
        out.append(a + t * d + side * _log_uniform(rng, NEAR_D, a.shape[0])[:, None] * normal)
    few = rng.choice(a.shape[0], -(-a.shape[0] // 4), replace=False)  # a quarter of the edges
    t = rng.uniform(0.02, 0.98, (few.shape[0], 1))
    hair = rng.choice([-1.0, 1.0], few.shape[0]) * _log_uniform(rng, HAIR_D, few.shape[0])
    out.append(a[few] + t * d[few] + hair[:, None] * normal[few])
    out.append(a[few] + t * d[few])  # on the edge up to rounding (~1e-14° off, either side)
    v = a  # the vertices of the sampled edges
    for ux, uy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        step = _log_uniform(rng, NEAR_D, v.shape[0])
        out.append(np.column_stack([v[:, 0] + ux * step, v[:, 1] + uy * step]))
    turn = rng.uniform(0, 2 * math.pi, v.shape[0])
    step = _log_uniform(rng, NEAR_D, v.shape[0])
    out.append(v + step[:, None] * np.column_stack([np.cos(turn), np.sin(turn)]))
    out.append(v[rng.choice(v.shape[0], -(-v.shape[0] // 4), replace=False)])
    out.append(np.column_stack([v[:, 0] - _log_uniform(rng, (1e-6, 1e-4), v.shape[0]), v[:, 1]]))
    return np.concatenate(out)


def fence_probes(fences: list[Fence], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probes around every ring of every fence, deduplicated: (lats, lngs)."""
    rng = np.random.default_rng(seed)
    pts = [ring_probes(r, rng) for f in fences for r in _rings(f.area)]
    xy = np.unique(np.concatenate(pts), axis=0)
    return xy[:, 1].copy(), xy[:, 0].copy()


def exact_pairs(fences: list[Fence], lats, lngs) -> set[tuple[int, str]]:
    """Every (probe, fence id) the exact oracle says is covered."""
    lats, lngs = np.asarray(lats, dtype=float), np.asarray(lngs, dtype=float)
    pairs = set()
    for f in fences:
        area = ExactArea(f.area)
        x0, y0, x1, y1 = f.area.bounds  # float comparisons are exact: a safe prefilter
        box = np.flatnonzero((lngs >= x0) & (lngs <= x1) & (lats >= y0) & (lats <= y1))
        for k in box.tolist():
            if area.covers(float(lngs[k]), float(lats[k])):
                pairs.add((k, f.id))
    return pairs


def index_pairs(idx: FenceIndex, lats, lngs) -> set[tuple[int, str]]:
    p, f = idx.match_many(lats, lngs)
    return set(zip(p.tolist(), idx.ids[f].tolist(), strict=True))


@dataclass
class Census:
    """Who decided the edge pairs: the index's own arithmetic, or the GEOS fallback."""

    sent: set[tuple[float, float, str]] = field(default_factory=set)  # (lng, lat, fence id)
    edge_pairs: int = 0
    own: int = 0
    geos: int = 0

    def count(self, fences: list[Fence], lats, lngs, within: float = 2 * NEAR_D[1]) -> None:
        """Classify every (probe, fence) pair with the probe within ``within``° of the fence's
        boundary (distance by shapely: only to sort pairs, never to decide them)."""
        for f in fences:
            dist = shapely.distance(f.area.boundary, shapely.points(lngs, lats))
            for k in np.flatnonzero(dist <= within).tolist():
                self.edge_pairs += 1
                if (float(lngs[k]), float(lats[k]), f.id) in self.sent:
                    self.geos += 1
                else:
                    self.own += 1

    @property
    def own_share(self) -> float:
        return self.own / self.edge_pairs if self.edge_pairs else 0.0

    def __str__(self) -> str:
        return (
            f"{self.edge_pairs} edge-probe pairs: {self.own} decided by the index's own "
            f"arithmetic, {self.geos} by the 1e-9° GEOS fallback ({self.own_share:.1%} own)"
        )


@contextmanager
def geos_census(fences: list[Fence]) -> Iterator[Census]:
    """Record every (point, fence) pair the index hands to ``shapely.intersects_xy``."""
    census = Census()
    owner = {id(f.area): f.id for f in fences}
    real = shapely.intersects_xy

    def spy(geoms, x, y, **kw):
        geoms, x, y = np.broadcast_arrays(np.asarray(geoms, dtype=object), x, y)
        for g, px, py in zip(geoms.ravel(), x.ravel(), y.ravel(), strict=True):
            census.sent.add((float(px), float(py), owner.get(id(g), "?")))
        return real(geoms, x, y, **kw)

    with mock.patch.object(geofence.index.shapely, "intersects_xy", spy):
        yield census
