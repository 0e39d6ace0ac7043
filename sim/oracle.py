"""What a correct engine must see in a planned track: anchors of truths and geometric checks.

The simulator records a truth for every violation a correct engine should raise for what the
truck actually did (docs/formats.md, "Ground truth"). Anchors find the alert time in the clean
track after it is sampled: the first ping of a dwell or stop, the last live ping before a gap,
the first ping outside the site (departure), the first ping of an episode. The geometric checks
decide, while planning, whether an injected path gives an unambiguous alert: deviations are
either clearly beyond the 150 m tolerance for minutes or clearly inside it, zone visits fall
well inside the zone's hours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

from sim.geo import cumulative
from sim.scenario import MIN_MS, World, local_minute
from sim.track import LIVE, Leg, Trace

TOLERANCE_M = 150.0  # route deviation: metres outside every permit corridor
SURE_PING_S = 45.0  # any stretch this long holds a ping (report intervals are at most 33 s)


class NoAnchor(RuntimeError):
    """A truth's anchor is missing from the sampled track (a simulator bug, never data)."""


@dataclass
class Expect:
    """A truth to record once the track is sampled: its type, anchor and window."""

    type: str
    anchor: Callable[[Trace, list[Leg]], int]
    note: str
    before_ms: int = 2 * MIN_MS
    after_ms: int = 5 * MIN_MS
    needs_ms: int = 0  # kept only if the track goes on this long after ts (inside the horizon)


def first_at(t0: int) -> Callable:
    """The first ping at or after ``t0`` (the start of a dwell, stop or episode leg)."""

    def anchor(tr: Trace, legs) -> int:
        k = int(np.searchsorted(tr.t, t0))
        if k >= len(tr):
            raise NoAnchor(f"no ping at or after {t0}")
        return int(tr.t[k])

    return anchor


def last_live_before(t0: int) -> Callable:
    """The last live (not buffered) ping before ``t0``: the start of a signal gap."""

    def anchor(tr: Trace, legs) -> int:
        for k in range(int(np.searchsorted(tr.t, t0)) - 1, -1, -1):
            if legs[tr.leg[k]].link == LIVE:
                return int(tr.t[k])
        raise NoAnchor(f"no live ping before {t0}")

    return anchor


def first_outside(shape: shapely.Geometry, t0: int) -> Callable:
    """The first ping at or after ``t0`` outside ``shape`` (frame metres): a departure."""

    def anchor(tr: Trace, legs) -> int:
        k0 = int(np.searchsorted(tr.t, t0))
        inside = shapely.contains_xy(shape, tr.x[k0:], tr.y[k0:])
        hits = np.flatnonzero(~inside)
        if not len(hits):
            raise NoAnchor(f"never left the fence after {t0}")
        return int(tr.t[k0 + hits[0]])

    return anchor


def first_inside_active(zone, kind: str, t0: int, t1: int) -> Callable:
    """The first ping in [t0, t1) inside ``zone`` while it restricts ``kind``."""

    def anchor(tr: Trace, legs) -> int:
        sel = np.flatnonzero((tr.t >= t0) & (tr.t < t1))
        inside = shapely.contains_xy(zone.shape, tr.x[sel], tr.y[sel])
        for k in sel[inside]:
            if zone.applies(kind) and zone.active(local_minute(int(tr.t[k]))):
                return int(tr.t[k])
        raise NoAnchor(f"no ping inside {zone.id}")

    return anchor


def first_breaking(breaks: Callable, t0: int, t1: int) -> Callable:
    """The first ping in [t0, t1) for which ``breaks(x, y)`` holds (vectorised)."""

    def anchor(tr: Trace, legs) -> int:
        sel = np.flatnonzero((tr.t >= t0) & (tr.t < t1))
        hit = sel[breaks(tr.x[sel], tr.y[sel])]
        if not len(hit):
            raise NoAnchor("no breaking ping in the episode")
        return int(tr.t[hit[0]])

    return anchor


# -- route deviation ----------------------------------------------------------------------------
def deviation_test(world: World, permit) -> Callable:
    """``breaks(x, y)``: outside the permit's corridors by more than the tolerance and inside
    no site, terminal or transfer point (those are excused)."""
    corridors = [world.corridors[c] for c in permit.corridors]
    reach = shapely.union_all(
        [shapely.LineString(c.path).buffer(c.buffer_m + TOLERANCE_M) for c in corridors]
    )
    excused = shapely.union_all(
        [p.shape for p in world.places.values() if p.kind in ("site", "terminal", "transfer")]
    )
    shapely.prepare(reach)
    shapely.prepare(excused)

    def breaks(x, y):
        x = np.atleast_1d(x)
        y = np.atleast_1d(y)
        return ~shapely.contains_xy(reach, x, y) & ~shapely.contains_xy(excused, x, y)

    return breaks


def outside_distance(world: World, permit, path: np.ndarray) -> np.ndarray:
    """Metres outside the permit corridors' areas along ``path`` sampled every 10 m (0 inside
    a corridor, or inside a site, terminal or transfer point)."""
    corridors = [world.corridors[c] for c in permit.corridors]
    area = shapely.union_all([shapely.LineString(c.path).buffer(c.buffer_m) for c in corridors])
    excused = shapely.union_all(
        [p.shape for p in world.places.values() if p.kind in ("site", "terminal", "transfer")]
    )
    pts = sample(path, 10.0)
    d = shapely.distance(area, shapely.points(pts))
    d[shapely.contains_xy(excused, pts[:, 0], pts[:, 1])] = 0.0
    return d


def sample(path: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` metres along ``path``."""
    cum = cumulative(path)
    s = np.arange(0.0, float(cum[-1]) + step, step)
    s[-1] = min(s[-1], float(cum[-1]))
    return np.column_stack([np.interp(s, cum, path[:, 0]), np.interp(s, cum, path[:, 1])])


def deviation_runs(d: np.ndarray, speed_kmh: float, step: float = 10.0) -> list[tuple]:
    """Runs of samples beyond the tolerance, as an engine sees them through sparse pings:
    ``(start_index, seconds, peak_m)`` each.

    Two runs separated by less than :data:`SURE_PING_S` of driving may or may not have a ping in
    between (one episode or two), so they are merged when the engine's cooldown would suppress a
    second alert anyway and rejected as ambiguous otherwise. Raises ValueError when the profile
    is ambiguous: a run too short or too shallow to be sure either way, or samples that hover
    between 100 m and the tolerance without clearly leaving.
    """
    per_sample = step / (speed_kmh / 3.6)
    raw = []
    over = d > TOLERANCE_M
    k = 0
    while k < len(d):
        if not over[k]:
            k += 1
            continue
        j = k
        while j < len(d) and over[j]:
            j += 1
        raw.append([k, j])
        k = j
    runs: list[list[int]] = []
    for k, j in raw:
        if runs and (k - runs[-1][1]) * per_sample < SURE_PING_S:
            if (k - runs[-1][0]) * per_sample >= 8 * 60:
                raise ValueError("deviation runs split by a gap a ping may miss")
            runs[-1][1] = j
        else:
            runs.append([k, j])
    out = []
    for k, j in runs:
        seconds = (j - k) * per_sample
        peak = float(d[k:j].max())
        if seconds < 150 or peak < 300:
            raise ValueError(f"deviation run of {seconds:.0f} s peaking at {peak:.0f} m")
        out.append((k, seconds, peak))
    if not out and float(d.max(initial=0.0)) > 100.0:
        raise ValueError("path hovers near the deviation tolerance")
    return out


# -- restricted zones ---------------------------------------------------------------------------
def zone_window_ok(zone, kind: str, t_in: int, t_out: int, margin_ms: int = 10 * MIN_MS) -> bool:
    """True when ``zone`` restricts ``kind`` for the whole of [t_in - margin, t_out + margin]."""
    if not zone.applies(kind):
        return False
    t = t_in - margin_ms
    while t <= t_out + margin_ms:
        if not zone.active(local_minute(t)):
            return False
        t += MIN_MS
    return True


def path_zone_times(path: np.ndarray, zone, t0: int, speed_kmh: float) -> tuple[int, int] | None:
    """When a drive of ``path`` starting at ``t0`` enters and leaves ``zone`` (None: never)."""
    line = shapely.LineString(path)
    if not line.intersects(zone.shape):
        return None
    part = line.intersection(zone.shape)
    ds = [line.project(shapely.Point(xy)) for xy in shapely.get_coordinates(part)]
    v = speed_kmh / 3.6
    return t0 + int(min(ds) / v * 1000), t0 + int(max(ds) / v * 1000)


def chord_clear(world: World, a: np.ndarray, b: np.ndarray, metres: float = 200.0) -> bool:
    """True when the straight segment a-b (a signal gap) passes no restricted zone."""
    seg = shapely.LineString([a, b]) if not np.allclose(a, b) else shapely.Point(a)
    return all(seg.distance(z.shape) > metres for z in world.zones)
