"""Bulk tracks for the archive benchmark (issue 12): trucks on a road grid around Wuxi.

Not the simulator (too slow for 100 million pings): each vehicle works one shift a night (start
20:00-22:00, end 04:00-05:30 Beijing time), driving along a grid of roads 400 m apart at
10-60 km/h per leg, waiting at junctions (20-90 s, a red light), loading and unloading at sites
(5-20 min stops that flip ``loaded``), with a fix every 10-30 s (each vehicle its own interval,
±1 s jitter) and ~3 m of GPS noise. Each fix comes with the raw JSON an ingest record carries.
Everything is numpy per vehicle-night, seeded by (seed, vehicle, night): the same arguments give
the same pings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

WUXI = (31.49, 120.31)
BLOCK_M = 400.0
HALF_SPAN_BLOCKS = 30  # the grid spans +-12 km around the centre
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LNG = M_PER_DEG_LAT * math.cos(math.radians(WUXI[0]))
DAY_MS = 86_400_000
# 2025-06-02T00:00:00+08:00 (epoch ms): night k starts on the evening of this day + k.
DAY0_MS = 1748793600000


def vehicle_id(v: int) -> str:
    """A plate-like id, as the bureau's registry has them."""
    return f"苏B{v:05d}"


def night(vehicle: int, k: int, seed: int) -> dict[str, np.ndarray]:
    """The fixes of one vehicle's shift on night ``k``, in time order (numpy columns)."""
    rng = np.random.default_rng([seed, vehicle, k])
    start = DAY0_MS + k * DAY_MS + int(rng.uniform(20.0, 22.0) * 3_600_000)
    end = DAY0_MS + (k + 1) * DAY_MS + int(rng.uniform(4.0, 5.5) * 3_600_000)
    # Knots of a piecewise-linear path: (time ms, x m, y m, loaded flag). Random draws come in
    # arrays up front (one rng call per leg is 20x slower than the rest of the loop).
    legs = 1200
    turn = rng.random(legs) < 0.4
    left = rng.random(legs) < 0.5
    blocks_of = rng.integers(1, 6, legs).tolist()
    speed_of = (rng.uniform(10, 60, legs) / 3.6).tolist()  # m/s
    light = (rng.random(legs) < 0.3).tolist()
    red = rng.uniform(20, 90, legs).tolist()
    site_every = rng.integers(8, 30, legs).tolist()
    site_wait = rng.uniform(300, 1200, legs).tolist()
    t = float(start)
    x, y = (float(v) for v in rng.integers(-HALF_SPAN_BLOCKS, HALF_SPAN_BLOCKS, 2))
    loaded = 0
    kt, kx, ky, kl = [t], [x * BLOCK_M], [y * BLOCK_M], [loaded]
    heading = int(rng.integers(4))
    since_site = 0
    i = 0
    while t < end:
        i = (i + 1) % legs
        if turn[i]:
            heading = (heading + (1 if left[i] else 3)) % 4
        dx, dy = ((1, 0), (0, 1), (-1, 0), (0, -1))[heading]
        blocks = blocks_of[i]
        if max(abs(x + dx * blocks), abs(y + dy * blocks)) > HALF_SPAN_BLOCKS:
            heading = (heading + 2) % 4  # the edge of the town: turn back
            continue
        x, y = x + dx * blocks, y + dy * blocks
        t += blocks * BLOCK_M / speed_of[i] * 1000
        kt.append(t), kx.append(x * BLOCK_M), ky.append(y * BLOCK_M), kl.append(loaded)
        since_site += blocks
        wait = 0.0
        if since_site > site_every[i]:  # a site: load or unload
            wait, loaded, since_site = site_wait[i], 1 - loaded, 0
        elif light[i]:
            wait = red[i]
        if wait:
            t += wait * 1000
            kt.append(t), kx.append(x * BLOCK_M), ky.append(y * BLOCK_M), kl.append(loaded)
    step = rng.uniform(10, 30) * 1000
    ts = np.arange(start, end, step) + rng.uniform(
        -1000, 1000, int(math.ceil((end - start) / step))
    )
    ts = np.unique(ts.astype(np.int64) // 1000 * 1000)  # JT/T 808 reports whole seconds
    kt_a = np.asarray(kt)
    px = np.interp(ts, kt_a, kx) + rng.normal(0, 3, ts.size)
    py = np.interp(ts, kt_a, ky) + rng.normal(0, 3, ts.size)
    seg = np.clip(np.searchsorted(kt_a, ts, side="right"), 1, len(kt) - 1)
    vx = (np.asarray(kx)[seg] - np.asarray(kx)[seg - 1]) / np.maximum(kt_a[seg] - kt_a[seg - 1], 1)
    vy = (np.asarray(ky)[seg] - np.asarray(ky)[seg - 1]) / np.maximum(kt_a[seg] - kt_a[seg - 1], 1)
    speed = np.hypot(vx, vy) * 3_600_000 / 1000  # km/h
    moving = speed > 0.5
    speed = np.where(moving, np.round(speed + rng.normal(0, 1.5, ts.size), 1).clip(0), 0.0)
    heading_deg = np.where(moving, np.round(np.degrees(np.arctan2(vx, vy)) % 360), 0.0)
    return {
        "ts": ts,
        "lat": np.round(WUXI[0] + py / M_PER_DEG_LAT, 6),
        "lng": np.round(WUXI[1] + px / M_PER_DEG_LNG, 6),
        "speed_kmh": speed,
        "heading": heading_deg,
        "loaded": np.asarray(kl)[seg - 1].astype(bool),
        "acc": np.ones(ts.size, dtype=bool),
    }


def nights(vehicles: list[int], k: int, seed: int) -> dict[str, np.ndarray]:
    """Every fix of ``vehicles`` on night ``k`` in time order (the arrival order of a live
    feed), with ``vehicle`` (index into ``vehicles``) and ``seq`` (per vehicle) columns."""
    parts = [night(v, k, seed) for v in vehicles]
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    cols["vehicle"] = np.concatenate(
        [np.full(p["ts"].size, i, dtype=np.int32) for i, p in enumerate(parts)]
    )
    cols["seq"] = np.concatenate([np.arange(p["ts"].size) + k * 10_000 for p in parts])
    order = np.argsort(cols["ts"], kind="stable")
    return {c: a[order] for c, a in cols.items()}


def raw_json(vehicle: str, ts: int, lat: float, lng: float, speed: float, heading: float,
             loaded: bool, seq: int) -> str:  # fmt: skip
    """The record as a JT/T 808 gateway forwards it (keys as docs/formats.md "Ping")."""
    return (
        f'{{"vehicle":"{vehicle}","ts":{ts},"lat":{lat},"lng":{lng},"speed_kmh":{speed},'
        f'"heading":{heading},"acc":true,"loaded":"{"full" if loaded else "empty"}",'
        f'"lift":false,"cover_open":false,"source":"jt808","seq":{seq}}}'
    )


def rows(
    cols: dict[str, np.ndarray], names: list[str], lo: int, hi: int, lag_ms: int = 1500
) -> Iterator[dict]:
    """Archive rows (``replay.rows.ping_row`` shape, verdict accepted) of fixes ``lo:hi``."""
    from replay.rows import cell_of

    cells = [
        cell_of(la, ln)
        for la, ln in zip(cols["lat"][lo:hi].tolist(), cols["lng"][lo:hi].tolist(), strict=True)
    ]
    ts = cols["ts"][lo:hi].tolist()
    lat, lng = cols["lat"][lo:hi].tolist(), cols["lng"][lo:hi].tolist()
    speed, heading = cols["speed_kmh"][lo:hi].tolist(), cols["heading"][lo:hi].tolist()
    loaded, seq = cols["loaded"][lo:hi].tolist(), cols["seq"][lo:hi].tolist()
    veh = cols["vehicle"][lo:hi].tolist()
    for i in range(hi - lo):
        name = names[veh[i]]
        state = "full" if loaded[i] else "empty"
        yield {
            "vehicle": name,
            "ts": ts[i],
            "lat": lat[i],
            "lng": lng[i],
            "speed_kmh": speed[i],
            "heading": heading[i],
            "loaded": state,
            "lift": False,
            "cover_open": False,
            "acc": True,
            "backfill": None,
            "source": "jt808",
            "seq": seq[i],
            "received": ts[i] + lag_ms,
            "cell": cells[i],
            "verdict": "accepted",
            "detail": None,
            "partition": None,
            "offset": None,
            "index": 0,
            "ingest": None,
            "raw": raw_json(name, ts[i], lat[i], lng[i], speed[i], heading[i], loaded[i], seq[i]),
        }
