"""A small synthetic Wuxi for engine scenarios: fences, registry and a ping trace builder.

Layout (lat 31.50 is the main east-west road, corridor C1 from the depot D1 to the transfer
point W1; 0.001 deg of longitude is about 95 m here):

    depot D1 (120.250), site S1 (120.270), terminal T1 (120.330), transfer W1 (120.350)
    terminal T2 (31.5025, 120.300): just off the corridor, not on the permit
    producer R1 (31.48, 120.300, r 40 m), plant P1 (31.47, 120.320), kitchen depot D2
    restricted Z1 (31.45-31.46 x 120.28-120.30), 07:00-09:00, muck only; Z2 (a 55 m strip at
    31.430, 120.39-120.41), always; corridor L1 (31.49, 120.36-120.40) has a 40 km/h limit
"""

from __future__ import annotations

import math
from datetime import datetime

from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, Thresholds
from stream.eventtime import BEIJING
from stream.ping import Ping
from stream.registry import Registry

LAT = 31.50
D1, S1, T1, W1 = (LAT, 120.250), (LAT, 120.270), (LAT, 120.330), (LAT, 120.350)
T2 = (31.5025, 120.300)
R1, R2, P1, D2 = (31.48, 120.300), (31.48, 120.310), (31.47, 120.320), (31.47, 120.250)
Z1 = (31.455, 120.290)
Z2_SOUTH, Z2_NORTH = (31.425, 120.400), (31.440, 120.400)


def bj(text: str) -> int:
    """Epoch ms of a Beijing wall-clock time 'YYYY-MM-DD HH:MM[:SS]'."""
    return int(datetime.fromisoformat(text).replace(tzinfo=BEIJING).timestamp() * 1000)


def _box(lat: float, lng: float, half: float = 0.001) -> list:
    return [
        [
            [lng - half, lat - half],
            [lng + half, lat - half],
            [lng + half, lat + half],
            [lng - half, lat + half],
            [lng - half, lat - half],
        ]
    ]


def _feature(fid: str, kind: str, geometry: dict, **props) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": geometry,
        "properties": {"kind": kind, "name": fid, "district": "Liangxi", **props},
    }


def fences_geojson() -> dict:
    poly = lambda lat, lng, half=0.001: {"type": "Polygon", "coordinates": _box(lat, lng, half)}  # noqa: E731
    feats = [
        _feature("D1", "depot", poly(*D1, 0.002)),
        _feature("S1", "site", poly(*S1)),
        _feature("T1", "terminal", poly(*T1), district="Xishan"),
        _feature("T2", "terminal", poly(*T2)),
        _feature("W1", "transfer", poly(*W1)),
        _feature("P1", "plant", poly(*P1)),
        _feature("D2", "depot", poly(*D2)),
        _feature("R1", "producer", {"type": "Point", "coordinates": [R1[1], R1[0]]}, radius_m=40),
        _feature(
            "C1",
            "corridor",
            {"type": "LineString", "coordinates": [[D1[1], LAT], [W1[1], LAT]]},
            buffer_m=60,
        ),
        _feature(
            "Z1",
            "restricted",
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [120.28, 31.45],
                        [120.30, 31.45],
                        [120.30, 31.46],
                        [120.28, 31.46],
                        [120.28, 31.45],
                    ]
                ],
            },
            hours=["07:00-09:00"],
            vehicle_kinds=["muck"],
        ),
        _feature(
            "Z2",
            "restricted",
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [120.39, 31.430],
                        [120.41, 31.430],
                        [120.41, 31.4305],
                        [120.39, 31.4305],
                        [120.39, 31.430],
                    ]
                ],
            },
        ),
        _feature(
            "L1",
            "corridor",
            {"type": "LineString", "coordinates": [[120.36, 31.49], [120.40, 31.49]]},
            buffer_m=30,
            speed_limit_kmh=40,
        ),
    ]
    return {"type": "FeatureCollection", "features": feats}


def registry_mapping() -> dict:
    return {
        "vehicles": [
            {
                "id": "M1",
                "kind": "muck",
                "company": "Xin Da",
                "district": "Liangxi",
                "terminal_phone": "013800000001",
                "plate": "苏B·00001",
            },
            {"id": "M2", "kind": "muck", "company": "Xin Da", "district": "Binhu"},
            {"id": "K1", "kind": "kitchen", "company": "Lv Huan", "district": "Liangxi"},
            {"id": "O1", "kind": "oil", "company": "Lv Huan", "district": "Liangxi"},
        ],
        "permits": [
            {
                "id": "P-1",
                "site": "S1",
                "vehicles": ["M1"],
                "terminals": ["T1", "W1"],
                "corridors": ["C1"],
                "valid_from": "2025-01-01",
                "valid_to": "2025-12-31",
                "hours": ["20:00-06:00"],
            },
        ],
        "contracts": [
            {"id": "C-K1", "vehicle": "K1", "producers": ["R1"], "plants": ["P1"]},
            {"id": "C-O1", "vehicle": "O1", "producers": ["R1"], "plants": ["P1"]},
        ],
    }


def context(**overrides) -> EngineContext:
    index = FenceIndex(load_fences(fences_geojson()))
    th = Thresholds.from_mapping(overrides) if overrides else Thresholds()
    return EngineContext(index, Registry.from_mapping(registry_mapping()), th)


class Trace:
    """Builds a vehicle's pings: stays and straight drives at constant speed."""

    def __init__(self, vehicle: str, start: int | str, seq: int = 0):
        self.vehicle = vehicle
        self.t = bj(start) if isinstance(start, str) else start
        self.lat, self.lng = D1 if vehicle.startswith("M") else D2
        self.seq = seq
        self.pings: list[Ping] = []

    def _emit(self, speed: float, **flags) -> Ping:
        p = Ping(self.vehicle, self.t, self.lat, self.lng, speed_kmh=speed, seq=self.seq, **flags)
        self.seq += 1
        self.pings.append(p)
        return p

    def place(self, lat: float, lng: float) -> Trace:
        self.lat, self.lng = lat, lng
        return self

    def stay(self, seconds: float, every: float = 30, speed: float = 0.0, **flags) -> Trace:
        """Pings every ``every`` s for ``seconds`` here (the first one ``every`` s from now)."""
        for _ in range(max(1, int(seconds // every))):
            self.t += int(every * 1000)
            self._emit(speed, **flags)
        return self

    def drive(self, lat: float, lng: float, kmh: float = 40, every: float = 15, **flags) -> Trace:
        dy = (lat - self.lat) * 111_195
        dx = (lng - self.lng) * 111_195 * math.cos(math.radians(self.lat))
        dist = math.hypot(dx, dy)
        steps = max(1, math.ceil(dist / (kmh / 3.6 * every)))
        lat0, lng0 = self.lat, self.lng
        for i in range(1, steps + 1):
            self.lat = lat0 + (lat - lat0) * i / steps
            self.lng = lng0 + (lng - lng0) * i / steps
            self.t += int(dist / steps / (kmh / 3.6) * 1000)
            self._emit(kmh, **flags)
        return self

    def wait(self, seconds: float) -> Trace:
        """Silence: time passes with no ping."""
        self.t += int(seconds * 1000)
        return self


def muck_trip(start: str = "2025-06-01 21:00", vehicle: str = "M1", to=T1) -> Trace:
    """Depot → load at S1 (6 min) → corridor → unload at ``to`` (6 min) → back to the depot."""
    tr = Trace(vehicle, start)
    tr.stay(60).drive(*S1, kmh=30).stay(360, loaded="empty").stay(30, loaded="full")
    tr.drive(*to, kmh=40, loaded="full").stay(360, loaded="full").stay(60, loaded="empty")
    return tr.drive(*D1, kmh=40, loaded="empty").stay(60)


def merged(*traces: Trace) -> list[Ping]:
    """The traces' pings in arrival order = event-time order (stable across traces)."""
    return sorted((p for t in traces for p in t.pings), key=lambda p: p.ts)


def parked(vehicle: str = "M2", start: str = "2025-06-01 20:50", hours: float = 14) -> Trace:
    """A vehicle idling in the depot, pinging every minute: it keeps the watermark moving."""
    return Trace(vehicle, start).stay(hours * 3600, every=60)


class Outcome:
    """Everything a run produced, with alerts and trips in their final state."""

    def __init__(self, events: list):
        self.events = events
        self.alerts: dict[str, dict] = {}
        self.trips: dict[str, dict] = {}
        self.rejected: list[dict] = []
        self.fence_events: list[dict] = []
        self.stops: list[dict] = []
        for kind, payload in events:
            if kind == "alert":
                self.alerts[payload["id"]] = payload
            elif kind == "trip":
                self.trips[payload["id"]] = payload
            elif kind == "rejected":
                self.rejected.append(payload)
            elif kind == "fence":
                self.fence_events.append(payload)
            elif kind == "stop":
                self.stops.append(payload)

    def types(self, vehicle: str | None = None) -> list[str]:
        return sorted(a["type"] for a in self.alerts.values() if vehicle in (None, a["vehicle"]))

    def of(self, kind: str) -> list[dict]:
        return sorted((a for a in self.alerts.values() if a["type"] == kind), key=lambda a: a["ts"])

    def reasons(self) -> list[str]:
        return [r["reason"] for r in self.rejected]


def run(pings: list[Ping], ctx: EngineContext | None = None, now_ms: int | None = None) -> Outcome:
    """Process the pings in the given (arrival) order and finish the run."""
    from stream.engine import finish, process

    ctx = ctx or context()
    states, events = process(pings, ctx, now_ms=now_ms)
    states, more = finish(ctx, states)
    return Outcome(events + more)
