"""The scenario's roads as a vector basemap for the live map (issue 13, docs/map.md).

`landun demo` has no tiles offline, so the map draws the simulator's own roads: the approved
routes (corridors, the roads loaded muck trucks drive) as ``arterial`` lines, and as ``road``
lines the links the fleet drives between its places, shaped the way :func:`sim.roads.road`
shapes every simulated road and kept clear of the zones that apply to the vehicle kind:

- a muck company's depot to each site its trucks haul from, and each terminal of a permit back
  to the depot;
- a kitchen or oil vehicle's round: depot, its contract's producers nearest first, its plant,
  back to the depot;
- and every road the world has memoised already (those of a simulation that ran on it).

An empty truck's road between two spots may take the other turn of the "Z" than the link drawn
between the places' centres: the basemap is a backdrop for orientation, not the trace.
The output is deterministic: the same world gives the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.geo import to_latlng
from sim.scenario import World

DIGITS = 6  # ~0.1 m: finer adds bytes, not detail


def basemap(world: World) -> dict[str, Any]:
    """The roads of ``world`` as a GeoJSON FeatureCollection of LineStrings in WGS-84.

    Parameters
    ----------
    world : World
        A scenario from :func:`sim.scenario.build_world` (simulated or not).

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "features": [...]}``; each feature's ``properties``
        hold ``class`` (``arterial`` for a corridor, ``road`` otherwise) and, for a corridor,
        its ``id``. Each road appears once.
    """
    features = [
        _line(c.path, "arterial", c.id) for c in sorted(world.corridors.values(), key=_by_id)
    ]
    seen = {_ends(c.path) for c in world.corridors.values()}
    for path in [*_links(world), *_memoised(world)]:
        key = _ends(path)
        if key not in seen and len(path) >= 2:
            seen.add(key)
            features.append(_line(path, "road"))
    return {"type": "FeatureCollection", "features": features}


def write_basemap(world: World, path: Path) -> int:
    """Write :func:`basemap` of ``world`` to ``path`` (parents created); returns the number of
    roads written."""
    collection = basemap(world)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")), "utf-8")
    return len(collection["features"])


def _by_id(item) -> str:
    return item.id


def _links(world: World):
    """The roads between the places the fleet works between (see the module docstring)."""
    places = world.places
    pairs: list[tuple[str, str, str]] = []
    for permit in world.permits:
        depots = sorted({v.depot for v in world.vehicles if v.id in permit.vehicles})
        for depot in depots:
            pairs.append((depot, permit.site, "muck"))
            pairs += [(term, depot, "muck") for term in permit.terminals]
    kinds = {v.id: v for v in world.vehicles}
    for contract in world.contracts:
        v = kinds[contract.vehicle]
        stops = _round(world, v.depot, contract.producers)
        for plant in contract.plants[:1]:
            stops += [plant, v.depot]
        pairs += [(a, b, v.kind) for a, b in zip(stops[:-1], stops[1:], strict=True)]
    for a, b, kind in dict.fromkeys(pairs):  # each link once, in first-seen order
        if a in places and b in places:
            yield world.road(places[a].xy, places[b].xy, kind)


def _round(world: World, depot: str, producers: list[str]) -> list[str]:
    """Depot, then each producer nearest to the last stop first (a collection round)."""
    left = sorted(producers)
    stops = [depot]
    while left:
        here = world.places[stops[-1]].xy
        nearest = min(left, key=lambda p: (math.dist(world.places[p].xy, here), p))
        left.remove(nearest)
        stops.append(nearest)
    return stops


def _memoised(world: World):
    """The roads the world has planned already, in key order (deterministic)."""
    # World.road keeps its roads in _roads, with one non-road cache entry beside them.
    roads = [(k, v) for k, v in world._roads.items() if isinstance(k, tuple) and len(k) == 6]
    for _, path in sorted(roads, key=lambda kv: kv[0]):
        yield path


def _ends(path: np.ndarray) -> tuple:
    """A road's identity for de-duplication: its vertices rounded to metres."""
    return tuple(np.round(np.asarray(path), 0).ravel().tolist())


def _line(path: np.ndarray, cls: str, ident: str | None = None) -> dict[str, Any]:
    lat, lng = to_latlng(path[:, 0], path[:, 1])
    coords = [
        [round(float(x), DIGITS), round(float(y), DIGITS)] for x, y in zip(lng, lat, strict=True)
    ]
    props: dict[str, Any] = {"class": cls}
    if ident is not None:
        props["id"] = ident
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": props,
    }
