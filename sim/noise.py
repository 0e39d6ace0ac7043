"""GPS noise and the network: what turns a clean track into the pings a platform receives.

Applied per vehicle, never inside an injected violation or near a truth's time (those spans are
*protected*), so noise never creates, hides or moves a violation:

- jitter: every fix moves by a Gaussian 3.5 m per axis, capped at 10 m;
- dropouts (~0.3 per vehicle-hour): 1-3.5 min of reports lost for good while moving (the gap
  between surviving pings stays under 5 min);
- blind areas: a 5-30 min gap (one vehicle in four) while no trip or round is open, or a 2-6 min
  one (one in five) anywhere; the positions are buffered and re-sent with ``backfill: true``,
  seconds to 2.5 hours after coverage returns;
- bad fixes, which hygiene must reject and which must never raise an alert: single jumps of
  3-8 km between two close moving pings (≥ 360 km/h implied), (0, 0) fixes, swapped lat/lng,
  clocks hours to weeks in the future, clocks reset to 2000-01-01 (Beijing), and exact duplicate
  re-sends (a few seconds later);
- latency: live pings arrive 0.3-2.5 s after their fix.

Every gap's straight chord is checked against the restricted zones, so a crossing test between
the pings either side of a gap finds nothing.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

import numpy as np

from geofence.datum import transform
from sim.geo import to_latlng
from sim.oracle import chord_clear
from sim.scenario import MIN_MS, Vehicle, World
from sim.track import BUFFERED, MOVING, PARKED, Itinerary, Leg, Trace, trace

SEC = 1000
Y2K_BEIJING_MS = 946_656_000_000  # 2000-01-01T00:00:00+08:00
RATES = {  # expected events per vehicle-hour
    "dropout": 0.3,
    "jump": 0.12,
    "zero": 0.04,
    "swapped": 0.03,
    "future": 0.03,
    "reset": 0.03,
    "duplicate": 0.25,
}


@dataclass(slots=True)
class Rec:
    """One report as sent: event time as reported (``ts``), when it was taken (``capture``) and
    when it arrives; coordinates in the datum the vehicle reports."""

    capture: int
    ts: int
    lat: float
    lng: float
    speed: float
    heading: float
    acc: bool
    loaded: str | None
    lift: bool | None
    cover: bool | None
    backfill: bool
    arrival: int
    seq: int = 0
    dup: int = 0  # 0 original, 1 re-send


def apply(
    world: World,
    vehicle: Vehicle,
    tr: Trace,
    legs: list[Leg],
    protected: list[tuple[int, int]],
    rng: random.Random,
) -> list[Rec]:
    """Turn a vehicle's clean track into the reports its terminal sends.

    Parameters
    ----------
    world : World
        For the restricted zones (gap chords) and the horizon.
    vehicle : Vehicle
        The reporting vehicle (GCJ-02 when forwarded by a platform).
    tr : Trace
        The clean track.
    legs : list of Leg
        Its legs (link state, protection, body state).
    protected : list of (int, int)
        Time spans around truths that noise must not touch.
    rng : random.Random
        Every noise draw.

    Returns
    -------
    list of Rec
        The reports with sequence numbers, in capture order; duplicates appended at the end.
    """
    n = len(tr)
    info = _PingInfo(tr, legs, protected)
    hours = (world.end_ms - world.start_ms) / 3_600_000
    draws = np.random.default_rng(rng.getrandbits(64))
    arrival = tr.t + draws.integers(300, 2501, n)
    backfill = np.array([legs[k].link == BUFFERED for k in tr.leg], dtype=bool)
    batch_pos = 0
    for k in np.flatnonzero(backfill):
        release = legs[tr.leg[k]].release
        batch_pos = batch_pos + 1 if k > 0 and backfill[k - 1] else 0
        arrival[k] = release + batch_pos * 20
    kept = np.ones(n, dtype=bool)
    busy: list[tuple[int, int]] = []
    _blind_gap(world, info, rng, backfill, arrival, busy, long=rng.random() < 0.25)
    _blind_gap(world, info, rng, backfill, arrival, busy, long=False, p=0.2)
    for _ in range(_count(rng, RATES["dropout"], hours)):
        _dropout(world, info, rng, kept, backfill, busy)
    lat, lng = _jittered(tr, draws, vehicle.forwarded)
    t, speed, head = tr.t.tolist(), tr.speed.tolist(), tr.heading.tolist()
    owner, bf, arr = tr.leg.tolist(), backfill.tolist(), arrival.tolist()
    recs = []
    for k in np.flatnonzero(kept).tolist():
        leg = legs[owner[k]]
        rec = Rec(t[k], t[k], lat[k], lng[k], speed[k], head[k], leg.mode != PARKED, leg.loaded,
                  leg.lift, leg.cover, bf[k], arr[k])  # fmt: skip
        recs.append(rec)
    recs += _bad_fixes(info, rng, recs, kept, backfill, busy, hours)
    recs.sort(key=lambda r: r.capture)
    first = rng.randint(1, 5000)
    for i, r in enumerate(recs):
        r.seq = first + i
    recs += _duplicates(info, rng, recs, hours)
    return recs


class _PingInfo:
    """Per-ping facts from the legs: may noise touch it, may a long gap start there."""

    def __init__(self, tr: Trace, legs: list[Leg], protected: list[tuple[int, int]]):
        self.tr = tr
        self.legs = legs
        leg = [legs[k] for k in tr.leg]
        self.free = np.array([not lg.protect and lg.link != BUFFERED for lg in leg], dtype=bool)
        self.job = np.array([lg.job for lg in leg], dtype=bool)
        self.moving = np.array([lg.mode == MOVING for lg in leg], dtype=bool)
        for t0, t1 in protected:
            self.free[(tr.t >= t0) & (tr.t <= t1)] = False

    def span_free(self, k0: int, k1: int, busy) -> bool:
        t = self.tr.t
        if k0 < 1 or k1 + 1 >= len(t) or not self.free[k0 - 1 : k1 + 2].all():
            return False
        lo, hi = t[k0 - 1] - 3 * MIN_MS, t[k1 + 1] + 3 * MIN_MS
        return all(hi < a or lo > b for a, b in busy)

    def xy(self, k: int) -> np.ndarray:
        return np.array([self.tr.x[k], self.tr.y[k]])


def _count(rng: random.Random, rate: float, hours: float) -> int:
    """A Poisson-like count from Bernoulli trials every 6 minutes."""
    return sum(rng.random() < rate / 10 for _ in range(int(hours * 10)))


def _span(info: _PingInfo, rng, minutes: tuple[float, float], need) -> tuple[int, int] | None:
    t = info.tr.t
    cand = np.flatnonzero(need)
    if not len(cand):
        return None
    k0 = int(rng.choice(cand))
    k1 = int(np.searchsorted(t, t[k0] + int(rng.uniform(*minutes) * MIN_MS))) - 1
    return (k0, k1) if k1 >= k0 else None


def _blind_gap(world, info, rng, backfill, arrival, busy, long: bool, p: float = 1.0) -> None:
    """Buffer a stretch of reports and re-send it later as a blind-area batch."""
    if rng.random() >= p:
        return
    t = info.tr.t
    for _ in range(10):
        need = info.free & ~info.job if long else info.free & info.moving
        span = _span(info, rng, (5, 30) if long else (2, 6), need)
        if span is None:
            return
        k0, k1 = span
        if not info.span_free(k0, k1, busy) or (long and info.job[k0 - 1 : k1 + 2].any()):
            continue
        if not long and (t[k1 + 1] - t[k0 - 1] >= 8 * MIN_MS or not info.moving[k0 : k1 + 2].all()):
            continue
        if not chord_clear(world, info.xy(k0 - 1), info.xy(k1 + 1)):
            continue
        delay = rng.randint(1, 60) * SEC if rng.random() < 0.7 else rng.randint(20, 150) * MIN_MS
        release = int(t[k1 + 1]) + 3 * SEC + delay
        backfill[k0 : k1 + 1] = True
        arrival[k0 : k1 + 1] = release + np.arange(k1 - k0 + 1) * 20
        busy.append((int(t[k0 - 1]), int(t[k1 + 1])))
        return


def _dropout(world, info, rng, kept, backfill, busy) -> None:
    t = info.tr.t
    for _ in range(10):
        span = _span(info, rng, (1, 3.5), info.free & info.moving & ~backfill)
        if span is None:
            return
        k0, k1 = span
        if not info.span_free(k0, k1, busy) or backfill[k0 - 1 : k1 + 2].any():
            continue
        if t[k1 + 1] - t[k0 - 1] >= 285 * SEC or not info.moving[k0 : k1 + 1].all():
            continue
        if not chord_clear(world, info.xy(k0 - 1), info.xy(k1 + 1)):
            continue
        kept[k0 : k1 + 1] = False
        busy.append((int(t[k0 - 1]), int(t[k1 + 1])))
        return


def _jittered(tr: Trace, draws: np.random.Generator, gcj: bool) -> tuple[list, list]:
    dx = draws.normal(0.0, 3.5, len(tr))
    dy = draws.normal(0.0, 3.5, len(tr))
    r = np.hypot(dx, dy)
    scale = np.where(r > 10.0, 10.0 / np.maximum(r, 1e-9), 1.0)
    lat, lng = to_latlng(tr.x + dx * scale, tr.y + dy * scale)
    if gcj:
        lng, lat = transform(lng, lat, "wgs84", "gcj02")
    return np.round(lat, 6).tolist(), np.round(lng, 6).tolist()


def _bad_fixes(info, rng, recs, kept, backfill, busy, hours) -> list[Rec]:
    """Bad fixes inserted between two close live moving pings (outside protected spans)."""
    t = info.tr.t
    by_capture = {r.capture: r for r in recs}
    ok = info.free & info.moving & kept & ~backfill
    good = np.flatnonzero(ok[:-1] & ok[1:] & (np.diff(t) <= 35 * SEC) & (np.diff(t) >= 4 * SEC))
    out = []
    for kind in ("jump", "zero", "swapped", "future", "reset"):
        for _ in range(_count(rng, RATES[kind], hours)):
            if not len(good):
                return out
            k = int(rng.choice(good))
            if any(a - MIN_MS <= t[k] <= b + MIN_MS for a, b in busy):
                continue
            capture = int(t[k] + (t[k + 1] - t[k]) // 2000 * 1000)
            busy.append((int(t[k]), int(t[k + 1])))
            out.append(_corrupt(kind, by_capture[int(t[k])], capture, rng))
    return out


def _corrupt(kind: str, base: Rec, capture: int, rng: random.Random) -> Rec:
    bad = replace(base, capture=capture, ts=capture, arrival=capture + rng.randint(300, 2500))
    if kind == "jump":
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(3000, 8000) / 111_195.0
        bad.lat = round(base.lat + d * math.sin(a), 6)
        bad.lng = round(base.lng + d * math.cos(a) / math.cos(math.radians(base.lat)), 6)
    elif kind == "zero":
        bad.lat = bad.lng = 0.0
    elif kind == "swapped":
        bad.lat, bad.lng = base.lng, base.lat
    elif kind == "future":
        bad.ts = capture + rng.randint(2 * 3600, 20 * 86_400) * SEC
    elif kind == "reset":
        bad.ts = Y2K_BEIJING_MS + capture % 86_400_000 % (6 * 3_600_000)
    return bad


def _duplicates(info, rng, recs, hours) -> list[Rec]:
    live = [r for r in recs if not r.backfill]
    t = info.tr.t
    out = []
    for _ in range(_count(rng, RATES["duplicate"], hours)):
        if not live:
            break
        r = rng.choice(live)
        k = int(np.searchsorted(t, r.capture))
        if k < len(t) and t[k] == r.capture and not info.free[k]:
            continue
        out.append(replace(r, arrival=r.arrival + rng.randint(200, 20_000), dup=1))
    return out


def unregistered(world: World, rng: random.Random) -> list[tuple[str, Rec]]:
    """Reports of trucks missing from the registry (one per 100 vehicles): hygiene rejects them
    as ``filter_unknown_vehicle``; they must never raise an alert."""
    out = []
    places = sorted(p for p in world.places if not p.startswith("producer"))
    for i in range(max(1, len(world.vehicles) // 100)):
        vid = f"V{len(world.vehicles) + 1 + i:04d}"
        # Two different places: the same one twice gave a 1-s trip with no report, which
        # crashed trace() (issue 11, seed 1 with 3000 vehicles).
        a, b = (world.places[p].xy for p in rng.sample(places, 2))
        t0 = world.start_ms + rng.randint(0, int((world.end_ms - world.start_ms) * 0.8))
        it = Itinerary(t0, a, sensors=False, rng=rng)
        it.drive(world.road(a, b, "muck"), 30.0, stops=False)
        tr = trace(it.legs, min(it.t, world.end_ms), (20, 60, 180), rng)
        lat, lng = _jittered(tr, np.random.default_rng(rng.getrandbits(64)), gcj=False)
        seq = rng.randint(1, 5000)
        for k in range(len(tr)):
            t = int(tr.t[k])
            rec = Rec(t, t, lat[k], lng[k], float(tr.speed[k]), float(tr.heading[k]), True,
                      None, None, None, False, t + 800, seq + k)  # fmt: skip
            out.append((vid, rec))
    return out
