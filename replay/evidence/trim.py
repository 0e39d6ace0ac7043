"""An evidence pack's reference data: what concerns the vehicle, enough to re-run it (issue 12).

From the fences and registry in force at the alert's time (``replay.reference.reference_as_of``)
a pack keeps:

- fences: every fence within :data:`REACH_M` of the vehicle's track in the pack (the straight
  segments between its accepted fixes, and the alert's point) — the engine looks no farther
  (``stream.engine.nearby.NEAREST_REACH_M``: a dumping stop's nearest known place), so the
  places it visited, queued at or drifted near, the zones it crossed and the speed limits it
  drove under are all there — plus every fence the kept registry entries and the alert name;
- registry: the vehicle, its permits and contracts, the contracts of other vehicles naming a
  producer among the kept fences (a collection there may be poaching, 抢收: the engine compares
  companies), and every vehicle those entries name (a registry must hold them).

A permit or contract naming a fence that was not in force at that time (the live worker judges
such a reference missing; ``landun detect`` refuses it) loses that reference in the pack, and a
permit whose site is missing is left out: the notes say so, and the re-run judges as live did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import LineString, Point

from geofence.loader import check_fences
from geofence.metric import LocalProjection, distance_to_m
from stream.engine.nearby import NEAREST_REACH_M
from stream.registry_checks import FENCE_FIELDS, entry_fence_refs

REACH_M = NEAREST_REACH_M + 500.0  # a margin over the engine's farthest look-up
_DEG_M = 110_000.0  # metres per degree, a lower bound (latitude; longitude checked below)


@dataclass(frozen=True, slots=True)
class Reference:
    """A pack's reference data.

    Attributes
    ----------
    features : list of dict
        GeoJSON Features as archived (datum as written), by id.
    registry : dict
        registry.json's shape.
    notes : tuple of str
        References dropped because their fence was not in force.
    """

    features: list[dict[str, Any]]
    registry: dict[str, list[dict[str, Any]]]
    notes: tuple[str, ...]


def trim_reference(
    features: Sequence[Mapping[str, Any]],
    registry: Mapping[str, Sequence[Mapping[str, Any]]],
    vehicle: str,
    track: Sequence[tuple[float, float]],
    alert: Mapping[str, Any],
) -> Reference:
    """The reference of a pack (module docstring).

    Parameters
    ----------
    features, registry
        The reference in force at the alert's time.
    vehicle : str
        The alert's vehicle.
    track : sequence of (lat, lng)
        The vehicle's accepted fixes in the pack, in time order.
    alert : dict
        The alert (its point and ``fence`` are kept too).
    """
    fences, _ = check_fences([dict(f) for f in features])  # archived: valid as accepted live
    kinds = {f.id: str(f.kind) for f in fences}
    points = [*track, (alert.get("lat"), alert.get("lng"))]
    keep = _near(fences, [(la, ln) for la, ln in points if la is not None and ln is not None])
    permits = [p for p in registry.get("permits") or () if vehicle in (p.get("vehicles") or ())]
    contracts = _contracts(registry.get("contracts") or (), vehicle, keep, kinds)
    notes: list[str] = []
    permits = [e for p in permits if (e := _mend("permits", p, kinds, notes)) is not None]
    contracts = [e for c in contracts if (e := _mend("contracts", c, kinds, notes)) is not None]
    for section, entries in (("permits", permits), ("contracts", contracts)):
        for entry in entries:
            keep.update(i for ids in entry_fence_refs(section, entry).values() for i in ids)
    if alert.get("fence") in kinds:
        keep.add(str(alert["fence"]))
    if not keep and fences:
        # landun detect refuses a fence file without features; one far beyond the engine's
        # reach changes nothing (the first by id, so the choice is the same on every build)
        keep.add(min(f.id for f in fences))
    named = {vehicle}
    named.update(v for p in permits for v in p.get("vehicles") or ())
    named.update(str(c.get("vehicle")) for c in contracts)
    trimmed = {
        "vehicles": [dict(v) for v in registry.get("vehicles") or () if v.get("id") in named],
        "permits": permits,
        "contracts": contracts,
    }
    kept = [dict(f) for f in features if str(f.get("id")) in keep]
    return Reference(kept, trimmed, tuple(notes))


def _near(fences: Iterable[Any], points: list[tuple[float, float]]) -> set[str]:
    """Ids of the fences within :data:`REACH_M` of the polyline through ``points``."""
    if not points:
        return set()
    line = LineString([(ln, la) for la, ln in points]) if len(points) > 1 else None
    shape = line if line is not None else Point(points[0][1], points[0][0])
    projection = LocalProjection.centred_on(shape)
    local = projection.project(shape)
    lats = [p[0] for p in points]
    lngs = [p[1] for p in points]
    pad = REACH_M / _DEG_M
    box = (min(lngs) - 2 * pad, min(lats) - pad, max(lngs) + 2 * pad, max(lats) + pad)
    out: set[str] = set()
    for fence in fences:
        x0, y0, x1, y1 = fence.area.bounds
        if x1 < box[0] or x0 > box[2] or y1 < box[1] or y0 > box[3]:
            continue  # far beyond the reach in degrees (2x in longitude: cos 31.5° > 0.5)
        if shapely.distance(projection.project(fence.area), local) <= REACH_M:
            out.add(fence.id)
    return out


def _contracts(
    contracts: Iterable[Mapping[str, Any]], vehicle: str, keep: set[str], kinds: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The vehicle's contracts, and others naming a kept producer (poaching is judged on them)."""
    producers = {i for i in keep if kinds.get(i) == "producer"}
    return [
        dict(c)
        for c in contracts
        if c.get("vehicle") == vehicle or producers.intersection(c.get("producers") or ())
    ]


def _mend(
    section: str, entry: Mapping[str, Any], kinds: Mapping[str, str], notes: list[str]
) -> dict[str, Any] | None:
    """``entry`` without references to fences not in force (or of a kind its field refuses);
    None for a permit whose site is such a fence."""
    out = dict(entry)
    for field, ids in entry_fence_refs(section, entry).items():
        bad = [i for i in ids if kinds.get(i) not in FENCE_FIELDS[field]]
        if not bad:
            continue
        notes.append(f"{section} {entry.get('id')!r}: {field}: {', '.join(bad)} not in force")
        if field == "site":
            return None
        out[field] = [i for i in out.get(field) or () if i not in bad]
    return out


def nearest_place(features: list[dict[str, Any]], alert: dict[str, Any]) -> tuple | None:
    """``(fence, kind, metres)``: the registered place (not a corridor or zone) nearest the
    alert's point among the pack's fences (0 inside), within the engine's reach; else None.

    Examples
    --------
    >>> ring = [[120.31, 31.49], [120.311, 31.49], [120.311, 31.491], [120.31, 31.49]]
    >>> site = {"type": "Feature", "id": "S1", "properties": {"kind": "site"},
    ...         "geometry": {"type": "Polygon", "coordinates": [ring]}}
    >>> nearest_place([site], {"lat": 31.4902, "lng": 120.3108})
    ('S1', 'site', 0.0)
    >>> nearest_place([site], {"lat": None, "lng": None}) is None
    True
    """
    lat, lng = alert.get("lat"), alert.get("lng")
    if lat is None or lng is None:
        return None
    fences, _ = check_fences(features)
    found = [
        (round(float(distance_to_m(f.area, lat, lng)), 1), f.id, str(f.kind))
        for f in fences
        if str(f.kind) not in ("corridor", "restricted")
    ]
    found = [x for x in found if x[0] <= NEAREST_REACH_M]
    if not found:
        return None
    metres, fence, kind = min(found)
    return fence, kind, metres
