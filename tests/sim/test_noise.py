"""Dirty GPS in the feed: each kind of bad fix occurs, jitter stays within metres."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import orjson

from stream.eventtime import parse_ts

Y2K_UTC_MS = 946_684_800_000


def _lines(out):
    return (out / "pings.jsonl").read_bytes().splitlines()


def test_every_kind_of_bad_fix_occurs(sim60, sim60_dir):
    out, _ = sim60_dir
    end = sim60.world.end_ms
    kinds = Counter()
    for p in map(orjson.loads, _lines(out)):
        ts = parse_ts(p["ts"])
        if p["lat"] == 0 and p["lng"] == 0:
            kinds["zero"] += 1
        elif p["lat"] > 90:
            kinds["swapped"] += 1
        elif ts < Y2K_UTC_MS:
            kinds["reset"] += 1
        elif ts > end + 3_600_000:
            kinds["future"] += 1
    assert set(kinds) == {"zero", "swapped", "reset", "future"}


def test_exact_duplicates_are_resent(sim60_dir):
    """The same report again, received later (issue 11: ``received`` is the platform's)."""
    out, _ = sim60_dir
    received = defaultdict(list)
    for p in map(orjson.loads, _lines(out)):
        received[orjson.dumps({k: v for k, v in p.items() if k != "received"})].append(
            p["received"]
        )
    repeated = [times for times in received.values() if len(times) > 1]
    assert len(repeated) >= 10
    assert all(len(set(times)) == len(times) for times in repeated)


def test_single_jumps_are_kilometres_away_from_both_neighbours(sim60_dir):
    out, _ = sim60_dir
    track = defaultdict(list)
    for p in map(orjson.loads, _lines(out)):
        if not p.get("backfill") and 31 < p["lat"] < 32:
            track[p["vehicle"]].append((parse_ts(p["ts"]), p["lat"], p["lng"]))
    jumps = 0
    for fixes in track.values():
        fixes.sort()
        for a, b, c in zip(fixes, fixes[1:], fixes[2:], strict=False):
            if c[0] - a[0] <= 40_000 and _m(a, b) > 2500 and _m(b, c) > 2500 and _m(a, c) < 1500:
                jumps += 1
    assert jumps >= 5


def test_a_parked_vehicle_wanders_only_metres(sim60_dir):
    out, _ = sim60_dir
    parked = defaultdict(list)
    for p in map(orjson.loads, _lines(out)):
        if p.get("acc") is False and p.get("datum") is None and not p.get("backfill"):
            parked[p["vehicle"]].append((parse_ts(p["ts"]), p["lat"], p["lng"]))
    spreads = []
    for fixes in parked.values():
        fixes.sort()
        first = [f for f in fixes if f[0] - fixes[0][0] < 15 * 60_000]  # still at the depot
        if len(first) >= 3:
            spreads.append(max(_m(a, b) for a in first for b in first))
    assert spreads and max(spreads) <= 21.0  # two fixes each at most 10 m off the spot
    assert sum(spreads) / len(spreads) > 2.0  # and they do wander


def _m(a, b) -> float:
    dy = (a[1] - b[1]) * 111_195.0
    dx = (a[2] - b[2]) * 111_195.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, dy)
