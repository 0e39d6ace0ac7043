"""Plausible road polylines between places, kept clear of restricted zones.

Wuxi's arterial roads run roughly north-south and east-west, so a road between two points is a
"Z": along one axis, across, then along it again, with gentle bends (vertices nudged a few tens of
metres) on long straights. Where a road would pass within ``radius + ZONE_MARGIN_M`` of a zone
that applies to the vehicle, the part inside that disc is replaced by an arc around it — the ring
road a truck takes round the old city. Corridors (approved routes) are exactly these roads, so a
truck that follows its road stays on the corridor's centre line.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import numpy as np
import shapely

from sim.geo import cumulative, join
from sim.places import ZONE_MARGIN_M, Zone

ARC_STEP = math.radians(8.0)
BEND_EVERY_M = 1500.0
BEND_SIGMA_M = 25.0


def road(
    a: np.ndarray, b: np.ndarray, rng: random.Random, avoid: Iterable[Zone] = ()
) -> np.ndarray:
    """A road from ``a`` to ``b`` that keeps clear of the ``avoid`` zones.

    Parameters
    ----------
    a, b : ndarray (2,)
        Ends, frame metres.
    rng : random.Random
        Shapes the road (which way the Z turns, the bends).
    avoid : iterable of Zone
        Zones to pass at least ``radius + ZONE_MARGIN_M`` from their centre.

    Returns
    -------
    ndarray (k, 2)
        The polyline, starting exactly at ``a`` and ending exactly at ``b``.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    path = _bend(_zigzag(a, b, rng), rng)
    for zone in avoid:
        path = around(path, zone.xy, zone.radius + ZONE_MARGIN_M)
    return path


def road_via(
    a: np.ndarray, via: np.ndarray, b: np.ndarray, rng: random.Random, avoid: Iterable[Zone] = ()
) -> np.ndarray:
    """A road from ``a`` through ``via`` to ``b`` (a deliberate short cut through ``via``)."""
    avoid = list(avoid)
    return join(road(a, via, rng, avoid), road(via, b, rng, avoid))


def _zigzag(a: np.ndarray, b: np.ndarray, rng: random.Random) -> np.ndarray:
    dx, dy = b - a
    if abs(dx) < 300 or abs(dy) < 300:
        return np.vstack([a, b])
    f = rng.uniform(0.3, 0.7)
    if rng.random() < 0.5:
        mid = [(a[0] + f * dx, a[1]), (a[0] + f * dx, b[1])]
    else:
        mid = [(a[0], a[1] + f * dy), (b[0], a[1] + f * dy)]
    return np.vstack([a, np.array(mid), b])


def _bend(path: np.ndarray, rng: random.Random) -> np.ndarray:
    """Split long straights and nudge the new vertices sideways: roads are not ruled lines."""
    out = [path[0]]
    for p, q in zip(path[:-1], path[1:], strict=True):
        d = q - p
        length = float(np.hypot(*d))
        n = int(length // BEND_EVERY_M)
        if n >= 1:
            normal = np.array([-d[1], d[0]]) / length
            for k in range(1, n + 1):
                t = k / (n + 1)
                out.append(p + t * d + normal * rng.gauss(0.0, BEND_SIGMA_M))
        out.append(q)
    return np.vstack(out)


def around(path: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Replace the part of ``path`` inside the disc (centre, radius) by an arc round it.

    The arc runs the shorter way from the first entry to the last exit; its vertices sit far
    enough out that every chord of the arc stays outside the disc.
    """
    line = shapely.LineString(path)
    disc = shapely.Point(centre).buffer(radius, quad_segs=32)
    if not line.intersects(disc):
        return path
    part = line.intersection(disc)
    ds = [line.project(shapely.Point(xy)) for xy in shapely.get_coordinates(part)]
    s_in, s_out = min(ds), max(ds)
    cum = cumulative(path)
    p_in = np.array(line.interpolate(s_in).coords[0])
    p_out = np.array(line.interpolate(s_out).coords[0])
    t_in = math.atan2(*(p_in - centre)[::-1])
    t_out = math.atan2(*(p_out - centre)[::-1])
    dt = (t_out - t_in + math.pi) % (2 * math.pi) - math.pi
    n = max(2, math.ceil(abs(dt) / ARC_STEP))
    r_arc = radius * 1.02 / math.cos(abs(dt) / n / 2)
    arc = [
        centre + r_arc * np.array([math.cos(t_in + dt * k / n), math.sin(t_in + dt * k / n)])
        for k in range(0, n + 1)
    ]
    before = path[cum < s_in]
    after = path[cum > s_out]
    return (
        np.vstack([before, np.array(arc), after])
        if len(after)
        else np.vstack([before, np.array(arc), path[-1:]])
    )


def clearance(path: np.ndarray, zone: Zone) -> float:
    """Metres between ``path`` and the zone's polygon (0 when they touch)."""
    return float(shapely.LineString(path).distance(zone.shape))
