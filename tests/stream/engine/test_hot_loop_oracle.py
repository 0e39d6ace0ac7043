"""Oracle for the hand-inlined hot loops (issue 11, "the engine as a house").

``driver._run`` inlines ``core.admit`` (in-order case) and ``core.release``, and
``driver.tick_all`` inlines the "anything due?" guards of ``core.tick``. Here the same input goes
through a plain reference built only from the per-ping API — ``core.step`` for every ping, the
watermark and tick schedule kept the obvious way, ``core.tick`` for every vehicle at every tick,
``core.release`` and a final ``tick`` at the end — and both must give the same events.

Inputs: seeded simulated fleets (muck and kitchen/oil vehicles, backfill, jitter, duplicates,
reordering); the determinism tests' mixed scenario; and trucks in lock step on a grid of the
reorder window, where buffered pings sit exactly on the release limit.

Non-rejection events must match in order; rejections are compared as sets (the driver reports
a micro-batch's static rejections ahead of its accepted pings). The clock checks are the plain
per-vehicle ones (the ``received`` stamp, else the vehicle's newest accepted time); the input
leaves out the pings the driver would hold (far ahead of the vehicle's own time, or jumping the
watermark before other vehicles agree: ``driver._own_clock``/``_advance``, not inlined), so
every ping is judged at once by both.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest

from geofence import FenceIndex, load_fences
from sim import feed, simulate, writer
from stream.engine import EngineContext, EngineState, EventKind, finish, process
from stream.engine.core import release, step, tick
from stream.engine.hygiene import clock_reason, rejection, static_reason
from stream.engine.state import VehicleState
from stream.eventtime import parse_ts
from stream.ping import parse_ping
from stream.registry import Registry
from tests.stream.engine.test_determinism import mixed_input
from tests.stream.engine.world import T1, W1, context, muck_trip

FLEETS = {  # name: (vehicles, hours, seed, start) — muck and kitchen/oil, with the sim's noise
    "evening": (30, 3.0, 31, "2025-06-02T18:00:00+08:00"),
    "night": (30, 4.0, 32, "2025-06-02T21:00:00+08:00"),
    "long": (15, 9.0, 33, "2025-06-02T18:00:00+08:00"),
}


@functools.cache
def fleet(name: str) -> tuple[list, FenceIndex, Registry]:
    vehicles, hours, seed, start = FLEETS[name]
    sim = simulate(vehicles, hours, seed, parse_ts(start))
    pings = [parse_ping(writer.line(p), ref=n) for n, (_, p) in enumerate(feed.arrivals(sim), 1)]
    index = FenceIndex(load_fences(writer.fences(sim.world)))
    registry = Registry.from_mapping(writer.registry(sim.world))
    return pings, index, registry


def clock_ref(p, vs: VehicleState | None) -> int:
    """The clock checks' reference: the receive stamp, else the vehicle's newest time."""
    if p.received is not None:
        return p.received
    return -1 if vs is None else vs.head


def without_held(pings: list, ctx: EngineContext) -> list:
    """The input minus the pings the driver would hold: more than ``future_ms`` ahead of their
    vehicle's newest accepted time (no ``received`` stamp), or of the watermark."""
    kept, heads, wm, future = [], {}, -1, ctx.th.future_ms
    for p in pings:
        if static_reason(p, ctx) is None:
            head = heads.get(p.vehicle, -1)
            ref = p.received if p.received is not None else head
            if clock_reason(p.ts, ref, ctx) is None:
                if wm >= 0 and p.ts > wm + future:
                    continue
                heads[p.vehicle], wm = max(head, p.ts), max(wm, p.ts)
            elif p.received is None and p.ts > ref:
                continue
        kept.append(p)
    return kept


class Reference:
    """The engine run one ping at a time through ``step``/``tick``, nothing inlined."""

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx
        self.states: dict[str, VehicleState] = {}
        self.watermark = self.next_tick = -1

    def ping(self, p) -> list:
        ctx, states = self.ctx, self.states
        ref = clock_ref(p, states.get(p.vehicle))
        reason = static_reason(p, ctx) or clock_reason(p.ts, ref, ctx)
        if reason is not None:
            return [rejection(p, reason)]
        states[p.vehicle], out = step(states.get(p.vehicle), p, ctx)
        if p.ts > self.watermark:
            self.watermark = p.ts
            if p.ts >= self.next_tick:
                tick_ms = ctx.th.tick_ms
                self.next_tick = (p.ts // tick_ms + 1) * tick_ms
                for vs in states.values():
                    out += tick(vs, p.ts, ctx)[1]
        return out

    def finish(self) -> list:
        """End of input: release everything, then a last tick at the watermark."""
        out: list = []
        for vs in self.states.values():
            while vs.pending:
                q, qfs = vs.pending.pop(0)
                release(self.ctx, vs, q, qfs, out)
        for vs in self.states.values():
            out += tick(vs, self.watermark, self.ctx)[1]
        return out


def reference(pings: list, ctx: EngineContext) -> list:
    ref = Reference(ctx)
    return [e for p in pings for e in ref.ping(p)] + ref.finish()


def buffers(states: dict[str, VehicleState]) -> dict:
    """Where each vehicle's reorder buffer stands."""
    return {
        k: (vs.head, vs.released, [q.ts for q, _ in vs.pending], vs.live.last_ts)
        for k, vs in states.items()
    }


def split(events: list) -> tuple[list, set]:
    kept = [(str(k), p) for k, p in events if k != EventKind.REJECTED]
    rejected = {
        (p["ref"], p["reason"], p["ping"]["vehicle"], p["ping"]["ts"])
        for k, p in events
        if k == EventKind.REJECTED
    }
    return kept, rejected


@pytest.mark.parametrize("name", sorted(FLEETS))
def test_the_inlined_driver_gives_what_step_and_tick_give_one_ping_at_a_time(name):
    pings, index, registry = fleet(name)
    pings = without_held(pings, EngineContext(index, registry))
    states, events = process(pings, EngineContext(index, registry), EngineState())
    assert not states.ahead and not any(
        vs.limbo for vs in states.vehicles.values()
    )  # every ping judged at once, as by the reference
    _, more = finish(EngineContext(index, registry), states)
    got, got_rejected = split(events + more)
    want, want_rejected = split(reference(pings, EngineContext(index, registry)))
    kinds = {k for k, _ in want}
    assert {"alert", "trip", "stop", "fence"} <= kinds  # the fleet exercises every path
    assert got_rejected == want_rejected
    assert len(got) == len(want)
    assert got == want


@pytest.mark.parametrize("reorder_ms", [5_000, 15_000, 30_000])
def test_the_inlined_driver_agrees_on_pings_exactly_at_the_reorder_limit(reorder_ms):
    # Its vehicles' days lie hours apart: no ping is held as far ahead of the watermark.
    th = {"reorder_ms": reorder_ms, "future_ms": 7 * 86_400_000}
    pings = list(mixed_input())
    assert without_held(pings, context(**th)) == pings
    states, events = process(pings, context(**th), EngineState())
    assert not states.ahead and not any(vs.limbo for vs in states.vehicles.values())
    _, more = finish(context(**th), states)
    got, got_rejected = split(events + more)
    want, want_rejected = split(reference(pings, context(**th)))
    assert any(k == "alert" and p["late"] for k, p in want)  # the blind-area batch is in it
    assert got_rejected == want_rejected
    assert got == want


def lock_step(grid_ms: int) -> list:
    """Three trucks on trips at once, event times on a ``grid_ms`` grid (same instants for all),
    arriving in time order: a ping is exactly ``reorder_ms`` older than the next one. M2's
    terminal flags a stretch of its in-order pings as backfill (their events are ``late``)."""
    pings = []
    for vehicle, to, delay in (("M1", T1, 0), ("M2", W1, 40), ("M1", W1, 7200)):
        tr = muck_trip("2025-06-01 21:00", vehicle, to)
        pings += [
            dataclasses.replace(p, ts=(p.ts + delay * 1000) // grid_ms * grid_ms) for p in tr.pings
        ]
    pings = sorted(pings, key=lambda p: (p.ts, p.vehicle))
    return [
        dataclasses.replace(p, backfill=True) if p.vehicle == "M2" and 20 <= p.seq < 90 else p
        for p in pings
    ]


@pytest.mark.parametrize("reorder_ms", [5_000, 15_000, 30_000])
def test_the_inlined_driver_agrees_ping_by_ping_for_trucks_in_lock_step(reorder_ms):
    """One ping per ``process`` call: after every ping, the same events and the same reorder
    buffers, watermark and tick schedule as the reference."""
    # M1's second trip starts after an hour of silence: not held as ahead of the watermark.
    th = {"reorder_ms": reorder_ms, "future_ms": 7 * 86_400_000}
    ctx = context(**th)
    ref = Reference(context(**th))
    states = EngineState()
    kinds = set()
    for p in lock_step(reorder_ms):
        states, got = process([p], ctx, states)
        want = ref.ping(p)
        assert split(got) == split(want), p
        assert buffers(states.vehicles) == buffers(ref.states), p
        assert (states.watermark, states.next_tick) == (ref.watermark, ref.next_tick)
        kinds |= {k for k, _ in want}
    assert not states.ahead and not any(vs.limbo for vs in states.vehicles.values())
    _, got = finish(ctx, states)
    assert split(got) == split(ref.finish())
    assert {"trip", "fence", "stop"} <= kinds | {k for k, _ in got}
