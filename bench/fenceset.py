"""Synthetic fence sets and pings around Wuxi for the geofence benchmark (issue 2).

The mix follows the city's registry: mostly small places (30–300 m construction sites and
restaurants, circles and rotated rectangles), ~100 large ones (star-shaped no-go zones and convex
terminals of 1–5 km, approved-route corridors 40–100 m wide and kilometres long), and pings of
which ~30 % fall inside some fence, many of them near edges.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from geofence.model import Fence, FenceKind

BOX = (120.0, 31.30, 120.6, 31.75)  # lng0, lat0, lng1, lat1
M_PER_DEG = 111_320.0


def _ring(x: float, y: float, radii: np.ndarray, phase: float) -> Polygon:
    """A polygon around (x, y) with one radius (metres) per vertex, in degrees."""
    ang = phase + np.linspace(0, 2 * math.pi, radii.shape[0], endpoint=False)
    kx = 1.0 / (M_PER_DEG * math.cos(math.radians(y)))
    return Polygon(
        np.column_stack([x + radii * np.cos(ang) * kx, y + radii * np.sin(ang) / M_PER_DEG])
    )


def _small(rng: np.random.Generator, k: int, steep: bool) -> Fence:
    x, y = rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])
    if steep:  # pdf ∝ r^-4 on 30–300 m: dense sets are mostly small places
        u = rng.uniform()
        r = (30.0**-3 - u * (30.0**-3 - 300.0**-3)) ** (-1 / 3)
    else:
        r = math.exp(rng.uniform(math.log(30), math.log(300)))
    if rng.uniform() < 0.8:
        area = _ring(x, y, np.full(24, r), 0.0)
        kind = FenceKind.PRODUCER if rng.uniform() < 0.5 else FenceKind.SITE
    else:
        corners = r * np.array([1.0, 0.6, 1.0, 0.6]) * math.sqrt(1 + 0.36)
        half = math.atan2(0.6, 1.0)
        phase = rng.uniform(0, math.pi)
        ang = phase + np.array([half, math.pi - half, math.pi + half, 2 * math.pi - half])
        kx = 1.0 / (M_PER_DEG * math.cos(math.radians(y)))
        area = Polygon(
            np.column_stack([x + corners * np.cos(ang) * kx, y + corners * np.sin(ang) / M_PER_DEG])
        )
        kind = FenceKind.SITE
    return Fence(f"s{k}", kind, area)


def _large(rng: np.random.Generator, k: int) -> Fence:
    x, y = rng.uniform(BOX[0] + 0.05, BOX[2] - 0.05), rng.uniform(BOX[1] + 0.05, BOX[3] - 0.05)
    which = k % 10
    if which < 4:  # star-shaped zone, 0.5–2.5 km
        rad = rng.uniform(500, 2500)
        radii = rad * (0.6 + 0.4 * (np.arange(48) % 2))
        return Fence(f"z{k}", FenceKind.RESTRICTED, _ring(x, y, radii, rng.uniform(0, 1)))
    if which < 7:  # convex terminal, 1–3 km across
        rad = rng.uniform(500, 1500)
        return Fence(f"t{k}", FenceKind.TERMINAL, _ring(x, y, np.full(40, rad), 0.0).convex_hull)
    # corridor: a wandering road 1–8 km long, 40–100 m wide, buffered in metres
    steps = int(rng.uniform(1000, 8000) / 250)
    heading = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.15, steps))
    pts_m = np.vstack(
        [[0.0, 0.0], np.cumsum(250 * np.column_stack([np.cos(heading), np.sin(heading)]), 0)]
    )
    road_m = LineString(pts_m).buffer(rng.uniform(20, 50), quad_segs=4)
    kx = 1.0 / (M_PER_DEG * math.cos(math.radians(y)))
    area = shapely.transform(
        road_m, lambda c: np.column_stack([x + c[:, 0] * kx, y + c[:, 1] / M_PER_DEG])
    )
    return Fence(f"c{k}", FenceKind.CORRIDOR, area)


def fences(n: int, seed: int = 1) -> list[Fence]:
    """``n`` fences: ``n - 100`` small places and 100 large ones."""
    rng = np.random.default_rng(seed)
    steep = n > 20_000
    return [_large(rng, k) for k in range(min(100, n))] + [
        _small(rng, k, steep) for k in range(max(0, n - 100))
    ]


def pings(fence_list: list[Fence], n: int, seed: int = 2, near_share: float | None = None):
    """(lats, lngs): uniform over the box, plus a share drawn in fence boxes grown by 10 %."""
    rng = np.random.default_rng(seed)
    if near_share is None:
        near_share = 0.17 if len(fence_list) <= 20_000 else 0.07
    n_near = int(n * near_share)
    lngs = rng.uniform(BOX[0], BOX[2], n)
    lats = rng.uniform(BOX[1], BOX[3], n)
    bounds = shapely.bounds(np.array([f.area for f in fence_list], dtype=object))
    pick = bounds[rng.integers(0, bounds.shape[0], n_near)]
    w, h = pick[:, 2] - pick[:, 0], pick[:, 3] - pick[:, 1]
    lngs[:n_near] = pick[:, 0] - 0.05 * w + rng.uniform(0, 1, n_near) * 1.1 * w
    lats[:n_near] = pick[:, 1] - 0.05 * h + rng.uniform(0, 1, n_near) * 1.1 * h
    order = rng.permutation(n)
    return lats[order], lngs[order]
