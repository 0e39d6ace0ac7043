"""The kitchen-waste side of the small synthetic Wuxi (``world.py``), as the bureau describes it
in issue 11: producers on other companies' contracts, vehicles standing with GPS jitter or
creeping in a jam, and signal lost in a basement loading dock.

Added to ``world.py``'s places (0.001 deg of longitude is about 95 m here, of latitude 111 m):

    producer R3 (31.48, 120.330, r 40 m) on contract C-J9 of J9, company "Jie Neng"
    producer R4 (31.485, 120.300, r 40 m) on contract C-K2 of K2, company "Lv Huan" (K1's)
    producer R5 (31.485, 120.310, r 40 m) on no contract
    R1 (K1's and O1's contracts) is also on C-J9: a producer two companies serve

R1 stands for a mall: its basement loading dock lies under the ramp ``RAMP`` (about 70 m
outside its 40 m circle, inside ``dock_reach_m``).
"""

from __future__ import annotations

import math

from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, Thresholds
from stream.registry import Registry
from tests.stream.engine.world import R1, Trace, _feature, fences_geojson, registry_mapping

R3, R4, R5 = (31.48, 120.330), (31.485, 120.300), (31.485, 120.310)
M_LAT = 111_195.0
M_LNG = M_LAT * math.cos(math.radians(31.48))  # about 94.8 km per degree here


def offset(at: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0) -> tuple:
    """The point ``north_m`` north and ``east_m`` east of ``at``."""
    return (at[0] + north_m / M_LAT, at[1] + east_m / M_LNG)


RAMP = offset(R1, north_m=-110.0)  # 70 m outside R1's circle: the ramp down to the dock


def context(**overrides) -> EngineContext:
    """``world.context`` with R3-R5, J9 and K2 and their contracts."""
    fences = fences_geojson()
    for rid, (lat, lng) in (("R3", R3), ("R4", R4), ("R5", R5)):
        point = {"type": "Point", "coordinates": [lng, lat]}
        fences["features"].append(_feature(rid, "producer", point, radius_m=40))
    reg = registry_mapping()
    reg["vehicles"] += [
        {"id": "J9", "kind": "kitchen", "company": "Jie Neng", "district": "Binhu"},
        {"id": "K2", "kind": "kitchen", "company": "Lv Huan", "district": "Liangxi"},
    ]
    reg["contracts"] += [
        {"id": "C-J9", "vehicle": "J9", "producers": ["R3", "R1"], "plants": ["P1"]},
        {"id": "C-K2", "vehicle": "K2", "producers": ["R4"], "plants": ["P1"]},
    ]
    th = Thresholds.from_mapping(overrides) if overrides else Thresholds()
    return EngineContext(FenceIndex(load_fences(fences)), Registry.from_mapping(reg), th)


def stand(tr: Trace, seconds: float, every: float = 15, **flags) -> Trace:
    """Standing in one place for ``seconds`` (a ping every ``every`` s, the first ``every`` s
    from now, the last ``seconds`` from now), each fix 5-15 m off the true point in a
    different direction (GPS jitter), reported speed 0-1.5 km/h."""
    lat, lng = tr.lat, tr.lng
    for i in range(1, int(round(seconds / every)) + 1):
        r = 5 + (i * 7) % 11
        a = math.radians(i * 137.5)
        tr.lat, tr.lng = offset((lat, lng), r * math.sin(a), r * math.cos(a))
        tr.t += int(every * 1000)
        tr._emit((i % 4) * 0.5, **flags)
    tr.lat, tr.lng = lat, lng
    return tr


def inch(tr: Trace, seconds: float, metres: float, every: float = 15, kmh=(1.0,)) -> Trace:
    """Moving east ``metres`` in ``seconds`` at an even pace (a ping every ``every`` s), with
    the reported speeds cycling through ``kmh``: a vehicle inching forward."""
    n = int(round(seconds / every))
    lat, lng = tr.lat, tr.lng
    for i in range(1, n + 1):
        tr.lat, tr.lng = offset((lat, lng), east_m=metres * i / n)
        tr.t += int(every * 1000)
        tr._emit(kmh[(i - 1) % len(kmh)])
    return tr


JAM_KMH = (1.0, 4.0, 8.0, 2.0, 6.0, 3.0, 7.0, 5.0)  # what a terminal in a jam reports


def creep(tr: Trace, seconds: float = 240, metres: float = 64, every: float = 15) -> Trace:
    """A traffic jam: ``metres`` along the road in ``seconds``, reported speeds 1-8 km/h."""
    return inch(tr, seconds, metres, every, JAM_KMH)


def dwell(tr: Trace, seconds: float, every: float = 5, **flags) -> Trace:
    """A slow spell of exactly ``seconds`` from its first ping to its last, where the trace is
    (the first ping ``every`` s from now)."""
    return tr.stay(seconds + every, every=every, **flags)


def reappear(tr: Trace, gap_s: float, at: tuple[float, float], kmh: float = 0.0) -> Trace:
    """No position for ``gap_s`` seconds, then one fix at ``at``: the gap between the last fix
    and the first after it is exactly ``gap_s``."""
    tr.t += int(gap_s * 1000)
    tr.place(*at)
    tr._emit(kmh)
    return tr
