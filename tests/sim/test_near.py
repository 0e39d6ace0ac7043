"""Near-threshold cases (sim.near, issue 11) sit just either side of the engine's thresholds, in
the pings the engine will see: durations within seconds of the threshold, speeds within a few
km/h of the limit."""

from __future__ import annotations

import pytest
import shapely

from sim import simulate
from sim import thresholds as T
from sim.near.case import EVERY_S
from tests.sim.conftest import START_MS

SEC = 1000
# The margins are the ("just above / just below"), pinned here, not read from sim.near.
STOP_MARGIN_MS = 20 * SEC
SUSTAIN_MARGIN_MS = 10 * SEC
SILENT_MARGIN_MS = 30 * SEC
LIMIT_MARGIN_KMH = 5.0


@pytest.fixture(scope="module")
def plain():
    return simulate(60, 8, 5, START_MS, normal_ops=False)


def _cases(sim, trick):
    """(plan, pings, dense spans) of every vehicle carrying ``trick``; a dense span is a run
    of legs reported every EVERY_S seconds, as (t0, t1)."""
    out = []
    for plan in sim.plans:
        if plan.trick != trick:
            continue
        spans: list[list[int]] = []
        for leg in plan.legs:
            if leg.every == EVERY_S:
                if spans and spans[-1][1] == leg.t0:
                    spans[-1][1] = leg.t1
                else:
                    spans.append([leg.t0, leg.t1])
        pings = sorted((r.capture, r.speed) for v, r in sim.records if v == plan.vehicle.id
                       and r.capture == r.ts and not r.dup)  # fmt: skip
        out.append((plan, pings, spans))
    assert out, f"no {trick} in the night"
    return out


def _inside(pings, t0, t1):
    return [p for p in pings if t0 <= p[0] < t1]


def _timed(pings, t0, t1):
    """The case's pings: one exactly at t0, every EVERY_S s, one exactly at t1 (the next)."""
    inside = _inside(pings, t0, t1)
    assert inside[0][0] == t0
    assert all(b[0] - a[0] == EVERY_S * SEC for a, b in zip(inside, inside[1:], strict=False))
    assert any(p[0] == t1 for p in pings)
    return inside


# trick, threshold (ms), margin, above: the seen duration (last - first ping of the case) just
# over it; below: even the ping that ends it (t1 - first) comes just under it.
DURATIONS = [
    ("near_stop_long", T.SUSPICIOUS_STOP_MS, STOP_MARGIN_MS, True),
    ("near_stop_short", T.SUSPICIOUS_STOP_MS, STOP_MARGIN_MS, False),
    ("near_overspeed_long", T.OVERSPEED_MS, SUSTAIN_MARGIN_MS, True),
    ("near_overspeed_short", T.OVERSPEED_MS, SUSTAIN_MARGIN_MS, False),
    ("near_uncovered_long", T.UNCOVERED_MS, SUSTAIN_MARGIN_MS, True),
    ("near_uncovered_short", T.UNCOVERED_MS, SUSTAIN_MARGIN_MS, False),
]


@pytest.mark.parametrize(("trick", "threshold", "margin", "above"), DURATIONS)
def test_durations_sit_just_either_side_of_the_threshold(plain, trick, threshold, margin, above):
    for _plan, pings, spans in _cases(plain, trick):
        (t0, t1), *_ = spans
        inside = _timed(pings, t0, t1)
        seen = inside[-1][0] - inside[0][0]
        if above:
            assert threshold < seen <= threshold + margin
        else:
            assert threshold - margin <= t1 - t0 < threshold


@pytest.mark.parametrize(("trick", "above"), [("near_silent_long", True),
                                              ("near_silent_short", False)])  # fmt: skip
def test_silences_sit_just_either_side_of_signal_lost(plain, trick, above):
    for _plan, pings, spans in _cases(plain, trick):
        (_, t_a), (t_b, _) = spans[0], spans[1]
        last = max(p[0] for p in pings if p[0] < t_a)
        first = min(p[0] for p in pings if p[0] >= t_b)
        gap = first - last
        assert first == t_b and t_a - last == EVERY_S * SEC
        if above:
            assert T.SIGNAL_LOST_MS < gap <= T.SIGNAL_LOST_MS + SILENT_MARGIN_MS
        else:
            assert T.SIGNAL_LOST_MS - SILENT_MARGIN_MS <= gap < T.SIGNAL_LOST_MS


@pytest.mark.parametrize(("trick", "sign"), [("near_limit_above", 1), ("near_limit_below", -1)])
def test_speeds_sit_just_either_side_of_the_default_limit(plain, trick, sign):
    limit = T.SPEED_LIMIT_KMH["muck"]
    for _plan, pings, spans in _cases(plain, trick):
        (t0, t1), *_ = spans
        speeds = [s for _, s in _timed(pings, t0, t1)]
        assert len(speeds) == 60 // EVERY_S
        assert all(0 < sign * (s - limit) <= LIMIT_MARGIN_KMH + 3 for s in speeds)


@pytest.mark.parametrize(("trick", "truths"), [("near_cooldown_apart", 2),
                                               ("near_cooldown_within", 1)])  # fmt: skip
def test_two_bursts_start_just_either_side_of_the_cooldown(plain, trick, truths):
    for plan, _pings, spans in _cases(plain, trick):
        (a, _), (b, _) = spans
        apart = b - a
        if truths == 2:
            assert T.COOLDOWN_MS < apart <= T.COOLDOWN_MS + 61 * SEC
        else:
            assert T.COOLDOWN_MS - 61 * SEC <= apart < T.COOLDOWN_MS
        mine = [t for t in plain.truths if t.vehicle == plan.vehicle.id and t.type == "overspeed"]
        assert [t.ts for t in mine] == [a, b][:truths]


@pytest.fixture(scope="module")
def wide():
    """A larger night: kitchen fleets hold both round cases."""
    return simulate(200, 12, 101, START_MS, normal_ops=False)


@pytest.mark.parametrize(("trick", "sign"), [("near_round_late", 1), ("near_round_early", -1)])
def test_rounds_are_delivered_just_either_side_of_the_deadline(wide, trick, sign):
    plans = [p for p in wide.plans if p.trick == trick]
    assert plans
    for plan in plans:
        contract = wide.world.contract_of(plan.vehicle.id)
        shapes = {p: wide.world.places[p].shape for p in [*contract.producers, *contract.plants]}

        def starts(ids, plan=plan, shapes=shapes):
            out, prev = [], None
            for leg in plan.legs:
                at = next((i for i in ids if leg.speed == 0 and
                           shapes[i].contains(shapely.Point(leg.path[0]))), None)  # fmt: skip
                if at is not None and at != prev:
                    out.append(leg.t0)
                prev = at
            return out

        collections, deliveries = starts(contract.producers), starts(contract.plants)
        waits = [leg.t1 for leg in plan.legs if leg.mode == 2 and leg.t1 - leg.t0 > 3_600_000]
        # the delivery that follows the long wait at the depot
        (held,) = [d for d in deliveries if any(0 <= d - w <= 3_600_000 for w in waits)]
        before = [d for d in deliveries if d < held]
        first = min(c for c in collections if not before or c > before[-1])
        late = held - first - T.ROUND_DEADLINE_MS
        assert 0 < sign * late <= 5 * 60 * SEC + SEC
        mine = [t for t in wide.truths if t.vehicle == plan.vehicle.id]
        assert [t.type for t in mine] == (["undelivered_collection"] if sign > 0 else [])
