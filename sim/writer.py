"""The simulator's files as text: fences.geojson, registry.json, pings.jsonl, truth.jsonl and
normal.json (issue 11: the normal-operation episodes and vehicle-hours).

Formats are those of docs/formats.md. Output is byte-for-byte deterministic for a seed: keys in
a fixed order, coordinates rounded (fences 7 decimals, pings 6 — JT/T 808 resolution), features
and registry entries sorted, pings in arrival order.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import orjson

from geofence.datum import transform
from sim.geo import to_latlng
from sim.noise import Rec
from sim.scenario import BEIJING_MS, DAY_MS, Vehicle, World
from stream.eventtime import iso_ts

KIND_ORDER = (
    "restricted",
    "depot",
    "site",
    "terminal",
    "transfer",
    "plant",
    "producer",
    "corridor",
)


def _coords(x, y, datum: str = "wgs84") -> list[list[float]]:
    lat, lng = to_latlng(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    if datum != "wgs84":
        lng, lat = transform(lng, lat, "wgs84", datum)
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lng, lat, strict=True)]


def fences(world: World) -> dict:
    """The fence FeatureCollection (RFC 7946; lng, lat; exterior rings counter-clockwise)."""
    feats = []
    for z in world.zones:
        ring = np.asarray(z.shape.exterior.coords)
        props = {"kind": "restricted", "name": z.name, "district": z.district, "datum": "wgs84"}
        props |= {"hours": list(z.hours), "vehicle_kinds": list(z.vehicle_kinds)}
        feats.append(_feature(z.id, props, "Polygon", [_coords(ring[:, 0], ring[:, 1])]))
    for p in world.places.values():
        props = {"kind": p.kind, "name": p.name, "district": p.district, "datum": p.datum}
        if p.point:
            props["radius_m"] = p.radius
            geom = _coords([p.xy[0]], [p.xy[1]], p.datum)[0]
            feats.append(_feature(p.id, props, "Point", geom))
        else:
            ring = np.asarray(p.shape.exterior.coords)
            feats.append(
                _feature(p.id, props, "Polygon", [_coords(ring[:, 0], ring[:, 1], p.datum)])
            )
    for c in world.corridors.values():
        props = {"kind": "corridor", "name": c.name, "district": c.district, "datum": "wgs84"}
        props |= {"buffer_m": c.buffer_m, "site": c.site, "terminal": c.terminal}
        if c.speed_limit_kmh is not None:
            props["speed_limit_kmh"] = c.speed_limit_kmh
        feats.append(_feature(c.id, props, "LineString", _coords(c.path[:, 0], c.path[:, 1])))
    feats.sort(key=lambda f: (KIND_ORDER.index(f["properties"]["kind"]), f["id"]))
    return {"type": "FeatureCollection", "name": "landun-sim", "features": feats}


def _feature(fid: str, props: dict, gtype: str, coords) -> dict:
    return {"type": "Feature", "id": fid, "properties": props,
            "geometry": {"type": gtype, "coordinates": coords}}  # fmt: skip


def registry(world: World) -> dict:
    """``{"vehicles": [...], "permits": [...], "contracts": [...]}``."""
    vehicles = [
        {"id": v.id, "kind": v.kind, "company": v.company, "district": v.district,
         "terminal_phone": v.terminal_phone, "plate": v.plate}
        for v in world.vehicles
    ]  # fmt: skip
    permits = [
        {"id": p.id, "site": p.site, "vehicles": sorted(p.vehicles), "terminals": p.terminals,
         "corridors": p.corridors, "valid_from": iso_ts(p.valid_from),
         "valid_to": iso_ts(p.valid_to), "hours": p.hours}
        for p in sorted(world.permits, key=lambda p: p.id)
    ]  # fmt: skip
    contracts = [
        {"id": c.id, "vehicle": c.vehicle, "producers": c.producers, "plants": c.plants}
        for c in world.contracts
    ]
    return {"vehicles": vehicles, "permits": permits, "contracts": contracts}


@lru_cache(maxsize=64)
def _date(day: int) -> str:
    return iso_ts(day * DAY_MS - BEIJING_MS)[:10]


def iso(ms: int) -> str:
    """:func:`stream.eventtime.iso_ts`, fast for whole seconds (the pings' resolution)."""
    if ms % 1000:
        return iso_ts(ms)
    day, sec = divmod(ms // 1000 + BEIJING_MS // 1000, 86_400)
    h, rest = divmod(sec, 3600)
    m, s = divmod(rest, 60)
    return f"{_date(day)}T{h:02d}:{m:02d}:{s:02d}+08:00"


def ping(vehicle: Vehicle | None, vid: str, r: Rec) -> dict:
    """One wire-format ping (field order fixed)."""
    forwarded = vehicle is not None and vehicle.forwarded
    d = {"vehicle": vid, "ts": r.ts if forwarded else iso(r.ts), "lat": r.lat, "lng": r.lng}
    if forwarded:
        d["datum"] = "gcj02"
    d["speed_kmh"] = r.speed
    d["heading"] = int(r.heading)
    d["acc"] = r.acc
    if vehicle is None or vehicle.kind == "muck":
        if vehicle is not None and vehicle.sensors:
            d["loaded"], d["lift"], d["cover_open"] = r.loaded, r.lift, r.cover
        elif vehicle is None or vehicle.loaded_field:
            d["loaded"] = None
    if r.backfill:
        d["backfill"] = True
    d["source"] = "jt809" if forwarded else "jt808"
    d["seq"] = r.seq
    # When the platform received it (issue 11): the arrival time the feed is ordered by, so
    # received never decreases down pings.jsonl; epoch ms, the platform's own clock.
    d["received"] = r.arrival
    return d


def truth(t) -> dict:
    return {
        "type": t.type,
        "vehicle": t.vehicle,
        "ts": iso_ts(t.ts),
        "window": [iso_ts(t.window[0]), iso_ts(t.window[1])],
        "note": t.note,
    }


def normal(sim) -> dict:
    """``normal.json``: the vehicle-hours of normal operation (outside every truth window) and
    the episodes that must not alert (``sim.normal``), by time."""
    episodes = [
        {"pattern": e.pattern, "vehicle": e.vehicle,
         "window": [iso_ts(e.t0), iso_ts(e.t1)], "note": e.note}
        for e in sim.episodes
    ]  # fmt: skip
    return {"vehicle_hours": round(sim.normal_hours, 3), "episodes": episodes}


def json_text(data: dict) -> str:
    """A JSON document as written (UTF-8 text, indented, newline-terminated)."""
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def line(row: dict) -> bytes:
    """One JSON line, newline-terminated."""
    return orjson.dumps(row) + b"\n"
