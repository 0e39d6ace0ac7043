"""Which vehicles break which rules, and the ground truth of what they did.

Every alert type of docs/domain.md is injected by one or more *tricks* (see ``sim.dumping``,
``straying``, ``paperwork``, ``collection``, ``sourcing`` and ``near``). Quotas scale with
the fleet: each muck trick is given to about 3.5 % of the muck trucks (at least one),
``expired`` to 1 %, each kitchen/oil trick to about 9 % of those vehicles, each near-threshold
case (``sim.near``) to about 1.5 %; with 200 vehicles over 12 hours every type gets at least
three truths. Vehicles are visited in a seeded order; each takes the trick with the most quota
left that it can carry out cleanly (a trick that is infeasible on a vehicle — a deadline that
would not pass inside the horizon, no unambiguous detour — is simply tried on the next
vehicle). The other vehicles behave normally, some of them in the normal-operation patterns of
``sim.normal``.

A truth is ``{"type", "vehicle", "ts", "window": [start, end], "note"}``: ``ts`` is when a correct
engine dates the alert (brief, "Violation semantics") and the window is a few minutes around it
(2 min before to 5 min after by default; 5/5 for ``unmatched_source``, whose departure is dated
at the first ping outside the site; 3/5 for ``route_deviation``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sim.collection import KitchenOverspeed, KitchenZone, Undelivered, UnregisteredStop
from sim.dumping import AbnormalStop, BackfillDump, DarkDump, GapReappear, LiftDump
from sim.kitchen import KitchenDay
from sim.muck import MuckDay
from sim.near import KITCHEN_NEAR, MUCK_NEAR
from sim.oracle import Expect, NoAnchor
from sim.paperwork import Expired, GhostUnload, OffHours, expire_permit
from sim.scenario import Vehicle, World
from sim.sourcing import Poach, Unsourced
from sim.straying import Detour, OpenCover, Overspeed, WrongTerminal, ZoneErrand
from sim.track import Leg, Trace
from sim.tricks import Infeasible
from stream.codes import ALERT_TYPES  # noqa: F401 - the simulator's public list

MUCK_TRICKS = (
    AbnormalStop,
    LiftDump,
    DarkDump,
    BackfillDump,
    GapReappear,
    Detour,
    WrongTerminal,
    GhostUnload,
    OffHours,
    ZoneErrand,
    Overspeed,
    OpenCover,
)
KITCHEN_TRICKS = (
    UnregisteredStop, Undelivered, KitchenOverspeed, KitchenZone, Poach, Unsourced, *KITCHEN_NEAR
)  # fmt: skip
MUCK_RATE = 0.035
EXPIRED_RATE = 0.01
KITCHEN_RATE = 0.09
NEAR_RATE = 0.015  # each near-threshold case (sim.near), muck and kitchen alike
MUCK_TRICKS = (*MUCK_TRICKS, *MUCK_NEAR)


@dataclass
class Plan:
    """A vehicle's planned legs, the truths they imply, and the trick (or ``None``) used."""

    vehicle: Vehicle
    legs: list[Leg]
    expects: list[Expect]
    trick: str | None
    episodes: list = field(default_factory=list)  # sim.normal.Episode: normal, must not alert


@dataclass(frozen=True)
class Truth:
    type: str
    vehicle: str
    ts: int
    window: tuple[int, int]
    note: str


def plan_fleet(world: World) -> list[Plan]:
    """Assign tricks (see the module docstring) and plan every vehicle; in vehicle order."""
    rng = random.Random(f"{world.seed}/assign")
    order = list(world.vehicles)
    rng.shuffle(order)
    muck = [v for v in order if v.kind == "muck"]
    other = [v for v in order if v.kind != "muck"]
    quota = {c: max(1, round(_rate(c) * len(muck))) for c in MUCK_TRICKS} if muck else {}
    quota.update({c: max(1, round(_rate(c) * len(other))) for c in KITCHEN_TRICKS} if other
                 else {})  # fmt: skip
    plans: dict[str, Plan] = {}
    for v in _expire(world, muck):  # their loads are unpermitted whatever else happens
        plans[v.id] = _plan(world, v, Expired, required=False)
    for v in order:
        if v.id in plans:
            continue
        catalogue = MUCK_TRICKS if v.kind == "muck" else KITCHEN_TRICKS
        plan = None
        for cls in sorted(catalogue, key=lambda c: (-quota[c], catalogue.index(c))):
            if quota[cls] <= 0 or not cls(rng).eligible(world, v):
                continue
            plan = _plan(world, v, cls)
            if plan is not None:
                quota[cls] -= 1
                break
        plans[v.id] = plan or _plan(world, v, None)
    return [plans[v.id] for v in world.vehicles]


def _rate(cls) -> float:
    if cls in MUCK_NEAR or cls in KITCHEN_NEAR:
        return NEAR_RATE
    return MUCK_RATE if cls in MUCK_TRICKS else KITCHEN_RATE


def _expire(world: World, muck: list[Vehicle]) -> list[Vehicle]:
    """Pick the trucks whose permit expired and give them their expired copy."""
    want = max(1, round(EXPIRED_RATE * len(muck))) if len(muck) >= 8 else 0
    chosen = []
    for v in muck:
        if len(chosen) >= want:
            break
        if len(world.permit_of(v.id).vehicles) >= 2:
            expire_permit(world, v.id)
            chosen.append(v)
    return chosen


def _plan(world: World, vehicle: Vehicle, cls, required: bool = True) -> Plan | None:
    name = cls.name if cls is not None else "none"
    rng = random.Random(f"{world.seed}/plan/{vehicle.id}/{name}")
    trick = cls(random.Random(f"{world.seed}/trick/{vehicle.id}/{name}")) if cls else None
    day_cls = MuckDay if vehicle.kind == "muck" else KitchenDay
    try:
        day = day_cls(world, vehicle, rng, trick).plan()
    except Infeasible:
        return None
    if trick is not None and required and not trick.fulfilled:
        return None
    return Plan(vehicle, day.it.legs, day.expects, name if trick else None, day.episodes)


# How long after its ts an alert of each type needs before a correct engine can raise it.
DETECT_MS = {
    "unmatched_source": 4 * 3_600_000,
    "undelivered_collection": 6 * 3_600_000,
    "signal_lost": 10 * 60_000,
    "suspected_dumping": 5 * 60_000,
    "route_deviation": 3 * 60_000,
}
DEFAULT_DETECT_MS = 3 * 60_000
HORIZON_MARGIN_MS = 10 * 60_000


class Unfinished(RuntimeError):
    """A trick ran past the end of the horizon: its alerts could not all be raised in time."""


def resolve(plan: Plan, tr: Trace, end_ms: int) -> list[Truth]:
    """The truths of a plan, with their anchors found in the sampled track.

    Raises :class:`Unfinished` when a truth could not be detected inside the horizon (the
    caller then plans the vehicle without its trick). Truths marked with ``needs_ms`` (one per
    load of an expired permit) are instead dropped when the track ends too soon after them.
    """
    out = []
    last = int(tr.t[-1]) if len(tr) else 0
    for e in plan.expects:
        try:
            ts = e.anchor(tr, plan.legs)
        except NoAnchor:
            if e.needs_ms:
                continue
            raise Unfinished(f"{plan.vehicle.id}: {e.type} beyond the horizon") from None
        if e.needs_ms:
            if ts + e.needs_ms > last:
                continue
        elif ts + DETECT_MS.get(e.type, DEFAULT_DETECT_MS) + HORIZON_MARGIN_MS > end_ms:
            raise Unfinished(f"{plan.vehicle.id}: {e.type} too close to the end")
        out.append(Truth(e.type, plan.vehicle.id, ts, (ts - e.before_ms, ts + e.after_ms), e.note))
    return out


def normal_plan(world: World, vehicle: Vehicle) -> Plan:
    """The vehicle's plan without any trick."""
    return _plan(world, vehicle, None)
