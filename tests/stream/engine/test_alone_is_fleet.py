"""Alone = fleet (issue 11, docs/domain.md "Reproducibility"): what the engine says about one
vehicle depends only on that vehicle's pings, the reference data and the time range processed.

Over seeded simulated fleets (GPS jitter, arrival latency, blind-area backfill, future clocks,
clocks reset to 2000, duplicates, jumps: the simulator's noise module), the fleet is run once;
then each vehicle alone, with the same context and the same end of time (``until_ms`` = the
fleet's final watermark). Every vehicle's alerts (the final version of each id, whole payloads)
and trip/round records must equal its alerts and records of the fleet run. Both with and without
``received`` stamps on the pings: with them the clock checks use the stamp, without them the
vehicle's own history.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import alone
from bench.alone import by_vehicle
from geofence import FenceIndex, load_fences
from sim import DEFAULT_START, feed, simulate, writer
from stream.engine import EngineContext
from stream.eventtime import parse_ts
from stream.ping import parse_ping
from stream.registry import Registry
from tests.stream.engine.test_alerts import FULL, loaded_at_site, undelivered
from tests.stream.engine.test_late import blind_area_dump
from tests.stream.engine.world import LAT, T1, Trace, context, parked

SEEDS = (11, 23, 57)  # seeds no other engine test uses
VEHICLES, HOURS = 30, 7  # 18:00-01:00: loads, unloads, rounds, deadlines, night hours
CHUNK = 4096  # several process() calls per run, state carried, as landun detect
# The bench's loop (landun detect's), with smaller chunks: one loop for both (issue 11).
run = functools.partial(alone.run, chunk=CHUNK)


@functools.cache
def night(seed: int) -> tuple:
    """A simulated fleet night: (context, [(arrival ms, wire ping)] in arrival order)."""
    sim = simulate(VEHICLES, HOURS, seed, parse_ts(DEFAULT_START))
    ctx = EngineContext(
        FenceIndex(load_fences(writer.fences(sim.world))),
        Registry.from_mapping(writer.registry(sim.world)),
    )
    return ctx, tuple(feed.arrivals(sim))


@functools.cache
def pings(seed: int, stamped: bool) -> tuple:
    """The night's pings, parsed; ``stamped``: each carries ``received``, its arrival time."""
    _, items = night(seed)
    out = []
    for n, (arrival, wire) in enumerate(items, start=1):
        wire = {k: v for k, v in wire.items() if k != "received"}  # as a terminal sends it
        out.append(parse_ping({**wire, "received": arrival} if stamped else wire, ref=n))
    return tuple(out)


def differing(seed: int, stamped: bool) -> tuple[list[str], dict]:
    """The vehicles whose alone run differs from the fleet run, and the fleet's tallies."""
    ctx, _ = night(seed)
    ps = pings(seed, stamped)
    states, events = run(ctx, ps)
    fleet = by_vehicle(events)
    own = defaultdict(list)
    for p in ps:
        own[p.vehicle].append(p)
    bad = []
    for vehicle, mine in sorted(own.items()):
        _, alone = run(ctx, mine, until_ms=states.watermark)
        if by_vehicle(alone).get(vehicle, {}) != fleet.get(vehicle, {}):
            bad.append(vehicle)
    reasons = defaultdict(int)
    for kind, payload in events:
        if kind == "rejected":
            reasons[payload["reason"]] += 1
    alerts = sum(1 for v in fleet.values() for k in v if k[0] == "alert")
    return bad, {"alerts": alerts, **reasons}


@pytest.mark.parametrize("stamped", [False, True], ids=["own-history", "received"])
@pytest.mark.parametrize("seed", SEEDS)
def test_each_vehicle_alone_says_what_the_fleet_said(seed, stamped):
    bad, tally = differing(seed, stamped)
    assert bad == []
    # Not vacuous: the night raised alerts, and its clock faults were rejected as such.
    assert tally["alerts"] > 0
    assert tally.get("filter_future", 0) > 0 and tally.get("filter_too_old", 0) > 0


@settings(
    derandomize=True,
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(SEEDS),
    stamped=st.booleans(),
    vehicles=st.lists(st.integers(0, VEHICLES - 1), min_size=2, max_size=6, unique=True),
)
def test_any_subset_of_the_fleet_says_what_the_fleet_said(seed, stamped, vehicles):
    """Not only one vehicle alone: any group of them, run together, agrees with the fleet."""
    ctx, _ = night(seed)
    ps = pings(seed, stamped)
    states, events = run(ctx, ps)
    fleet = by_vehicle(events)
    ids = sorted({p.vehicle for p in ps})
    chosen = {ids[i % len(ids)] for i in vehicles}
    _, some = run(ctx, [p for p in ps if p.vehicle in chosen], until_ms=states.watermark)
    got = by_vehicle(some)
    for vehicle in chosen:
        assert got.get(vehicle, {}) == fleet.get(vehicle, {}), vehicle


# --- The same property on scenarios built the way the bureau tells them -----------------------

HOUR_S = 3600


def gone_dark_after_loading() -> list:
    """Loads at S1, drives off loaded, and is never heard of again (the night goes on)."""
    return loaded_at_site().drive(LAT, 120.29, **FULL).pings


def dark_for_a_quarter_hour() -> list:
    """Loaded on the road, 15 minutes without a position, then seen again and delivering."""
    tr = loaded_at_site().drive(LAT, 120.29, **FULL).wait(15 * 60)
    return tr.drive(*T1, **FULL).stay(360, **FULL).stay(60, loaded="empty").pings


def a_fix_two_days_ahead() -> list:
    """One truck's log with a single fix whose clock says two days later, mid-trip."""
    pings = loaded_at_site().drive(*T1, **FULL).stay(360, **FULL).stay(60, loaded="empty").pings
    k = len(pings) // 2
    bad = dataclasses.replace(pings[k], ts=pings[k].ts + 2 * 24 * HOUR_S * 1000, seq=BROKEN)
    return [*pings[:k], bad, *pings[k:]]


def still_reporting_at_the_end() -> list:
    """The last vehicle still reporting: its trip goes on 40 minutes after the others stop."""
    tr = Trace("M1", "2025-06-02 10:20").stay(60).drive(*T1, kmh=20, **FULL)
    return tr.stay(360, **FULL).stay(60, loaded="empty").pings


SCENARIOS = {
    "a truck gone dark after loading (deadline and expiry by tick)": gone_dark_after_loading,
    "15 minutes dark while loaded (signal_lost by tick, then ended)": dark_for_a_quarter_hour,
    "a single fix two days ahead": a_fix_two_days_ahead,
    "the last vehicle still reporting at the end of the file": still_reporting_at_the_end,
    "a kitchen round never delivered": lambda: undelivered(False),
    "a blind-area batch after live reports resume": lambda: [
        p for p in blind_area_dump() if p.vehicle == "M1"
    ],
}


def under_way_beside_a_first_fix_two_days_ahead() -> list:
    """O1's very first fix says two days later (no history to judge it by: accepted) while M1
    drives loaded: O1's clock must not make the fleet's time jump and M1's signal_lost fire."""
    m1 = loaded_at_site().drive(*T1, **FULL).stay(360, **FULL).stay(60, loaded="empty").pings
    k = len(loaded_at_site().pings) + 3  # on the road, loaded
    bad = dataclasses.replace(m1[k], vehicle="O1", ts=m1[0].ts + 2 * 24 * 3600_000, seq=BROKEN)
    o1 = Trace("O1", "2025-06-01 21:20").stay(600, every=20).pings
    return _arrivals([*m1[: k + 1], bad], o1 + m1[k + 1 :])


def batch_while_the_first_live_fix_is_buffered() -> list:
    """Dark from the moment it leaves the site loaded; live reports resume with one fix, the
    blind-area batch (the departure) comes 70 s later, the next live fixes after it. The fleet's
    ticks release that first live fix meanwhile; alone, it is still in the reorder buffer when
    the batch comes: either way the batch is backfill and the departure the same."""
    tr = loaded_at_site()
    cut = len(tr.pings)
    tr.drive(LAT, 120.29, **FULL)
    dark = tr.pings[cut:]
    tr.drive(*T1, **FULL).stay(360, **FULL).stay(60, loaded="empty")
    first, *after = tr.pings[cut + len(dark) :]
    t = first.ts
    late = [dataclasses.replace(p, backfill=True, ref=t + 70_000 + i) for i, p in enumerate(dark)]
    after = [dataclasses.replace(p, ref=max(p.ts, t + 75_000)) for p in after]
    return [*tr.pings[:cut], first, *late, *after]


SCENARIOS["a blind-area batch while the first live fix is buffered"] = (
    batch_while_the_first_live_fix_is_buffered
)
SCENARIOS["a first fix two days ahead beside a truck under way"] = (
    under_way_beside_a_first_fix_two_days_ahead
)


@pytest.mark.parametrize("stamped", [False, True], ids=["own-history", "received"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_alone_is_fleet(name, stamped):
    """Each vehicle of the scenario, beside a parked truck that keeps the fleet's time moving
    for 14 hours, alone says what the fleet said."""
    mine = SCENARIOS[name]()  # in its arrival order
    fleet_pings = _arrivals(mine, parked("M2", "2025-06-01 20:50", hours=14).pings)
    if stamped:
        fleet_pings = _stamped(fleet_pings)
    ctx = context()
    states, events = run(ctx, fleet_pings)
    fleet = by_vehicle(events)
    assert fleet.get(mine[0].vehicle), "the scenario raised nothing to compare"
    for vehicle in sorted({p.vehicle for p in fleet_pings}):
        own = [p for p in fleet_pings if p.vehicle == vehicle]
        _, alone = run(ctx, own, until_ms=states.watermark)
        assert by_vehicle(alone).get(vehicle, {}) == fleet.get(vehicle, {}), vehicle
        assert _rejected(alone, vehicle) == _rejected(events, vehicle), vehicle


def _rejected(events: list, vehicle: str) -> list:
    return sorted(
        (e["reason"], e["ping"]["ts"])
        for k, e in events
        if k == "rejected" and e["vehicle"] == vehicle
    )


BROKEN = 999  # seq of a fix from a broken clock: it arrives with its neighbours


def _arrivals(mine: list, others: list) -> list:
    """Both in arrival order: by event time, a broken clock's fix when its neighbour came, a
    ping with a ``ref`` at that time (tests only: ``ref`` is where a ping came from)."""
    keyed, clock = [], 0
    for p in mine:  # the vehicle's own order kept: its arrival clock never goes back
        if p.ref is not None:  # an explicit arrival time
            clock = max(clock, p.ref)
        elif p.seq != BROKEN:
            clock = max(clock, p.ts)
        keyed.append((clock, p))
    keyed += [(p.ts, p) for p in others]
    return [p for _, p in sorted(keyed, key=lambda kp: kp[0])]


def _stamped(ps: list) -> list:
    """Receive stamps as a platform would write them: arrival order, a second after the fix
    (never before an earlier arrival); a fix from a broken clock is received when it came."""
    out, clock = [], 0
    for p in ps:
        clock = max(clock, p.ts if p.seq != BROKEN else clock) + 1000
        out.append(dataclasses.replace(p, received=clock))
    return out
