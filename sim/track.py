"""A vehicle's night as a list of legs, and the pings its terminal reports along it.

An :class:`Itinerary` is built forward in time: ``drive`` along a polyline at a speed, ``stay``
somewhere for a while (loading, collecting, parked), with the body state (loaded, lift, cover)
and the link state (``LIVE``; ``DARK``: nothing reported, a jammer or a dead terminal;
``BUFFERED``: positions kept on the terminal and re-sent later as a blind-area batch) set per leg.
Drives get short traffic-light stops (30-90 s) away from places, so a stop is never mistaken for
a dwell (3 min) or a suspicious stop (5 min).

:func:`trace` samples the legs at the terminal's report intervals — every ``move_s`` seconds while
moving, ``work_s`` while stationary with the engine on, ``park_s`` while parked — giving the clean
track that noise is later added to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from sim.geo import bearing, cumulative, cut, point_at

MOVING, WORKING, PARKED = 0, 1, 2
LIVE, DARK, BUFFERED = 0, 1, 2
SEC = 1000


@dataclass
class Leg:
    t0: int
    t1: int
    path: np.ndarray  # (k, 2); a stay has one point
    cum: np.ndarray
    speed: float  # km/h; 0 for a stay
    mode: int
    loaded: str | None
    lift: bool | None
    cover: bool | None
    link: int = LIVE
    release: int = 0  # BUFFERED: when the batch is re-sent
    job: bool = False  # a trip or round is open (no long blind-area gap may start here)
    protect: bool = False  # part of an injected violation: no noise here
    every: int = 0  # report interval (s) on this leg instead of the vehicle's; 0: the vehicle's
    sync: bool = False  # a report falls exactly on t0 (near-threshold cases time their pings)

    def at(self, t: np.ndarray) -> np.ndarray:
        """Positions at times ``t`` (ms) within the leg."""
        if self.speed == 0 or len(self.path) < 2:
            return np.repeat(self.path[:1], len(t), axis=0)
        s = (t - self.t0) / max(self.t1 - self.t0, 1) * self.cum[-1]
        return np.column_stack(
            [np.interp(s, self.cum, self.path[:, 0]), np.interp(s, self.cum, self.path[:, 1])]
        )


class Itinerary:
    """Builds legs forward in time from a start time and position.

    Body state (``loaded``, ``lift``, ``cover``) is ignored for vehicles without body sensors,
    which report ``loaded: null``.
    """

    def __init__(self, t: int, xy: np.ndarray, sensors: bool, stop_ok=None, rng=None):
        self.legs: list[Leg] = []
        self.t = t
        self.xy = np.asarray(xy, dtype=float)
        self.sensors = sensors
        self.body = {"loaded": "empty", "lift": False, "cover": False} if sensors else {}
        self.job = False
        self.protect = False
        self.stop_ok = stop_ok or (lambda xy: False)
        self.rng = rng or random.Random(0)

    @classmethod
    def at_depot(cls, world, depot, sensors: bool, rng: random.Random) -> Itinerary:
        """A vehicle's itinerary parked at a spot of its ``depot`` at the start of the horizon;
        its traffic stops keep 80 m from every place."""
        return cls(
            world.start_ms,
            depot.spot(rng),
            sensors,
            stop_ok=lambda xy: world.far_from_places(xy, 80),
            rng=rng,
        )

    def set(self, **body) -> None:
        """Change body state (loaded/lift/cover) for the legs that follow."""
        if self.sensors:
            self.body.update(body)

    def _leg(self, t1, path, speed, mode) -> int:
        b = self.body
        leg = Leg(
            self.t, t1, path, cumulative(path), speed, mode,
            b.get("loaded"), b.get("lift"), b.get("cover"), job=self.job, protect=self.protect,
        )  # fmt: skip
        self.legs.append(leg)
        self.t = t1
        self.xy = path[-1].copy()
        return len(self.legs) - 1

    def stay(self, ms: int, mode: int = WORKING, at: np.ndarray | None = None) -> int:
        """Stay still for ``ms`` (at ``at``, default where the vehicle is); returns the leg."""
        xy = self.xy if at is None else np.asarray(at, dtype=float)
        return self._leg(self.t + max(int(ms), SEC), xy[None, :].copy(), 0.0, mode)

    def park_until(self, t: int) -> int | None:
        """Park (engine off) until ``t`` if that is later than now."""
        return self.stay(t - self.t, PARKED) if t > self.t else None

    def drive(self, path: np.ndarray, speed: float, stops: bool = True) -> tuple[int, int]:
        """Drive ``path`` from the current position at ``speed`` km/h.

        Returns the first and last leg indices. With ``stops``, short traffic stops are added
        every few km where ``stop_ok`` allows (not near places).
        """
        path = np.vstack([self.xy, path[1:]]) if len(path) > 1 else path
        cum = cumulative(path)
        total = float(cum[-1])
        first = len(self.legs)
        marks = self._traffic_stops(path, cum, total) if stops else []
        s_prev = 0.0
        for s in [*marks, total]:
            part = cut(path, cum, s_prev, s)
            ms = int(round((s - s_prev) / (speed / 3.6) * 1000))
            if ms > 0:
                self._leg(self.t + ms, part, speed, MOVING)
            if s < total:
                self.stay(self.rng.randint(30, 90) * SEC, WORKING)
            s_prev = s
        if len(self.legs) == first:  # a zero-length drive still needs a leg to return
            self.stay(SEC, WORKING)
        return first, len(self.legs) - 1

    def _traffic_stops(self, path, cum, total) -> list[float]:
        marks = []
        s = 0.0
        while True:
            s += self.rng.uniform(1500, 4000)
            if s > total - 400:
                return marks
            if s > 400 and self.rng.random() < 0.5 and self.stop_ok(point_at(path, cum, s)):
                marks.append(s)

    def split_at(self, t: int) -> int:
        """Split the leg containing ``t`` so that a leg starts exactly at ``t``; its index."""
        for i, leg in enumerate(self.legs):
            if leg.t0 == t:
                return i
            if leg.t0 < t < leg.t1:
                xy = leg.at(np.array([t]))[0]
                if leg.speed == 0:
                    a_path, b_path = leg.path, leg.path
                else:
                    s = (t - leg.t0) / (leg.t1 - leg.t0) * leg.cum[-1]
                    a_path = cut(leg.path, leg.cum, 0.0, s)
                    b_path = cut(leg.path, leg.cum, s, float(leg.cum[-1]))
                    a_path[-1] = b_path[0] = xy
                second = replace(leg, t0=t, path=b_path, cum=cumulative(b_path), sync=False)
                self.legs[i] = replace(leg, t1=t, path=a_path, cum=cumulative(a_path))
                self.legs.insert(i + 1, second)
                return i + 1
        return len(self.legs)

    def report(self, t0: int, t1: int, every: int, sync_end: bool = True) -> None:
        """Report every ``every`` seconds between ``t0`` and ``t1``, the first report exactly at
        ``t0`` (and, with ``sync_end``, one exactly at ``t1``): near-threshold cases (issue 11)
        must know which pings the engine will see."""
        i = self.split_at(t0)
        j = self.split_at(t1)
        for leg in self.legs[i:j]:
            leg.every = every
        if i < len(self.legs):
            self.legs[i].sync = True
        if sync_end and j < len(self.legs):
            self.legs[j].sync = True

    def relink(self, t0: int, t1: int, link: int, release: int = 0) -> None:
        """Set the link state of everything between ``t0`` and ``t1``."""
        i = self.split_at(t0)
        j = self.split_at(t1)
        for leg in self.legs[i:j]:
            leg.link = link
            leg.release = release
            leg.protect = True


@dataclass
class Trace:
    """The clean track: one entry per report the terminal makes (DARK legs report nothing)."""

    t: np.ndarray  # int64 ms
    x: np.ndarray
    y: np.ndarray
    speed: np.ndarray
    heading: np.ndarray
    leg: np.ndarray  # leg index of each ping

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls) -> Trace:
        """A track without a report (a trip too short for one, or no legs at all)."""
        none = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), none, none, none, none, np.zeros(0, dtype=np.int64))


def trace(legs: list[Leg], t_end: int, intervals: tuple[int, int, int], rng: random.Random):
    """The reports a terminal makes along ``legs``.

    Parameters
    ----------
    legs : list of Leg
        The itinerary, contiguous in time.
    t_end : int
        End of the horizon (epoch ms); no report at or after it.
    intervals : (int, int, int)
        Report intervals in seconds while moving, standing with the engine on, and parked.
    rng : random.Random
        Interval jitter (within 10 %) and speed noise.

    Returns
    -------
    Trace
        Times, positions, reported speed and heading, and the leg of each report; legs with a
        ``DARK`` link report nothing.
    """
    if not legs:  # nothing planned: no report (issue 13, beside issue 11's case below)
        return Trace.empty()
    times, owner = [], []
    rand = rng.random
    t = legs[0].t0 + int(rand() * intervals[legs[0].mode]) * SEC
    i, n = 0, len(legs)
    while t < t_end:
        while i < n and legs[i].t1 <= t:
            i += 1
        if i == n:
            break
        times.append(t)
        owner.append(i)
        base = legs[i].every or intervals[legs[i].mode]
        spread = base // 10  # terminals keep their interval to within 10 %
        nxt = t + max(min(5, base), base - spread + int(rand() * (2 * spread + 1))) * SEC
        j = i + 1
        while j < n and legs[j].t0 < nxt:  # a synchronised leg gets a report on its start
            if legs[j].sync:
                nxt = legs[j].t0
                break
            j += 1
        t = nxt
    noise = np.random.default_rng(rng.getrandbits(64))
    if not times:  # no report before t_end (issue 11: a 1-s leg crashed the seed-1 3000 run)
        return Trace.empty()
    t_arr = np.array(times, dtype=np.int64)
    own = np.array(owner, dtype=np.int64)
    xy = np.zeros((len(t_arr), 2))
    speed = np.zeros(len(t_arr))
    head = np.zeros(len(t_arr))
    cuts = [0, *(np.flatnonzero(np.diff(own)) + 1).tolist(), len(own)]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        leg = legs[own[a]]
        xy[a:b] = leg.at(t_arr[a:b])
        if leg.speed > 0:
            speed[a:b] = np.maximum(0.0, leg.speed + noise.normal(0.0, 1.0, b - a))
            s = (t_arr[a:b] - leg.t0) / max(leg.t1 - leg.t0, 1) * leg.cum[-1]
            k = np.clip(np.searchsorted(leg.cum, s, side="right") - 1, 0, len(leg.path) - 2)
            d = leg.path[k + 1] - leg.path[k]
            head[a:b] = bearing(d[:, 0], d[:, 1])
    _carry_heading(head, speed)
    keep = np.array([legs[li].link != DARK for li in owner], dtype=bool)
    return Trace(
        t_arr[keep], xy[keep, 0], xy[keep, 1], np.round(speed[keep], 1),
        np.round(head[keep]), own[keep],
    )  # fmt: skip


def _carry_heading(head: np.ndarray, speed: np.ndarray) -> None:
    """A standing vehicle keeps reporting the heading it arrived with."""
    for k in range(1, len(head)):
        if speed[k] == 0:
            head[k] = head[k - 1]
