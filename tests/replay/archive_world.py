"""Small archives for the replay tests: pings near Wuxi, around a Beijing midnight (issue 12)."""

from __future__ import annotations

import math

import orjson

from replay.rows import ping_row
from stream.ping import Ping

WUXI = (31.49, 120.31)
# 2025-06-03T00:00:00+08:00: windows around it cross a day boundary in Beijing time.
MIDNIGHT = 1748880000000
M_PER_DEG_LAT = 110_900.0


def at(north_m: float, east_m: float) -> tuple[float, float]:
    """A position ``north_m``, ``east_m`` metres from the Wuxi centre (lat, lng)."""
    lat = WUXI[0] + north_m / M_PER_DEG_LAT
    lng = WUXI[1] + east_m / (M_PER_DEG_LAT * math.cos(math.radians(WUXI[0])))
    return lat, lng


def row(
    vehicle: str,
    ts: int,
    pos: tuple[float, float],
    ingest: int,
    verdict: str = "accepted",
    loaded: str | None = None,
    lift: bool | None = None,
) -> dict:
    """One ``pings`` row as the embedded writer would build it."""
    ping = Ping(vehicle, ts, pos[0], pos[1], loaded=loaded, lift=lift)
    raw = orjson.dumps(ping.to_dict()).decode()
    detail = None if verdict == "accepted" else f"{verdict} (test)"
    return ping_row(ping, verdict, raw=raw, detail=detail, ingest=ingest)
