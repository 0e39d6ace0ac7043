"""Fleet simulator with ground truth: a Wuxi night of muck trucks and kitchen-waste vehicles.

:func:`simulate` lays out the scenario (``scenario``, ``places``, ``roads``), assigns injected
violations and plans every vehicle (``violations``, ``muck``, ``kitchen`` and the trick modules
``dumping``, ``straying``, ``paperwork``, ``collection``, ``sourcing``, and the near-threshold
cases of ``near``, planned against the engine's default thresholds copied in ``thresholds``),
plays the normal operation the bureau does not want flagged on the other vehicles (``normal``:
episodes, no truth), samples the pings its terminal reports (``track``), resolves the ground
truth (``oracle``), adds GPS and network noise (``noise``) and orders everything by arrival
(``feed``). ``writer`` formats the files (``landun sim`` writes
them); docs/formats.md describes them and the scenario.

Deterministic: every random draw comes from a ``random.Random`` seeded from the seed and a
purpose string; no clock is read. The same arguments give byte-identical files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sim import noise
from sim.scenario import World, build_world
from sim.track import trace
from sim.violations import (
    ALERT_TYPES,
    Plan,
    Truth,
    Unfinished,
    normal_plan,
    plan_fleet,
    resolve,
)

DEFAULT_START = "2025-06-02T18:00:00+08:00"
PROTECT_BEFORE_MS = 3 * 60_000
PROTECT_AFTER_MS = 6 * 60_000


@dataclass
class Simulation:
    world: World
    plans: list[Plan]
    truths: list[Truth]
    records: list  # (vehicle id, noise.Rec)
    episodes: list  # sim.normal.Episode: normal operation that must not alert, by time
    normal_hours: float  # vehicle-hours outside every truth window (the false-alarm base)


def simulate(
    n_vehicles: int, hours: float, seed: int, start_ms: int, normal_ops: bool = True
) -> Simulation:
    """Simulate a fleet night with injected violations and its ground truth.

    Parameters
    ----------
    n_vehicles : int
        Fleet size (about 85 % muck trucks, the rest kitchen and oil vehicles).
    hours : float
        Length of the horizon.
    seed : int
        Seed of every random draw; the same arguments give the same simulation.
    start_ms : int
        Start of the horizon, epoch milliseconds.
    normal_ops : bool
        Play the normal-operation patterns the bureau does not want flagged (``sim.normal``);
        off, every vehicle without a trick behaves plainly.

    Returns
    -------
    Simulation
        The world (places, fleet, permits, contracts), each vehicle's plan, the truths sorted by
        time, every report as ``(vehicle id, Rec)`` (see ``sim.feed`` for arrival order), the
        normal-operation episodes and the vehicle-hours of normal operation.

    Raises
    ------
    ValueError
        With fewer than one vehicle or a non-positive horizon.
    """
    if n_vehicles < 1 or hours <= 0:
        raise ValueError("need at least one vehicle and a positive number of hours")
    end_ms = start_ms + int(hours * 3_600_000)
    world = build_world(n_vehicles, seed, start_ms, end_ms, normal_ops)
    plans = plan_fleet(world)
    truths: list[Truth] = []
    records: list = []
    normal_ms = 0
    for i, plan in enumerate(plans):
        v = plan.vehicle
        try:
            tr, mine = _sampled(plan, end_ms, seed)
        except Unfinished:  # the trick ran into the end of the horizon: behave normally
            plan = plans[i] = normal_plan(world, v)
            tr, mine = _sampled(plan, end_ms, seed)
        truths += mine
        normal_ms += end_ms - start_ms - _covered([t.window for t in mine], start_ms, end_ms)
        protected = [(t.ts - PROTECT_BEFORE_MS, t.ts + PROTECT_AFTER_MS) for t in mine]
        recs = noise.apply(
            world, v, tr, plan.legs, protected, random.Random(f"{seed}/noise/{v.id}")
        )
        records += [(v.id, r) for r in recs]
    records += noise.unregistered(world, random.Random(f"{seed}/unregistered"))
    truths.sort(key=lambda t: (t.ts, t.vehicle, t.type))
    episodes = sorted((e for p in plans for e in p.episodes), key=lambda e: (e.t0, e.vehicle))
    return Simulation(world, plans, truths, records, episodes, normal_ms / 3_600_000)


def _covered(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Milliseconds of [lo, hi] covered by the union of ``spans``."""
    total, reach = 0, lo
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, hi)
        if b > a:
            total += b - a
            reach = b
    return total


def _sampled(plan: Plan, end_ms: int, seed: int):
    v = plan.vehicle
    rng = random.Random(f"{seed}/trace/{v.id}")
    tr = trace(plan.legs, end_ms, (v.move_s, v.work_s, v.park_s), rng)
    return tr, resolve(plan, tr, end_ms)


def truth_counts(sim: Simulation) -> dict[str, int]:
    """Truths per alert type (every type listed)."""
    return {kind: sum(t.type == kind for t in sim.truths) for kind in ALERT_TYPES}


__all__ = ["DEFAULT_START", "Simulation", "simulate", "truth_counts"]
