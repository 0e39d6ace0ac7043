"""A small seeded night through the engine, scored against the simulator's truth (issue 11).

sim → detect (``stream.engine.process``/``finish``, as ``landun detect``) → score (``sim.score``,
one to one). The truths include the near-threshold cases of ``sim.near``: loosening or
tightening a threshold of the engine fails here. Two nights of the same seed: *plain* (no
normal-operation patterns) and *busy* (with them, ``sim.normal``).

Checked: on the plain night, every type present is found exactly (precision and recall 1.000,
no duplicate), the near-threshold non-violations raise nothing; on the busy night, no false
alarm on any normal-operation pattern; and the truths of the issue-11 rules
(``unsourced_delivery``, poaching) are found exactly.
"""

from __future__ import annotations

import orjson
import pytest

from geofence import FenceIndex, load_fences
from sim import feed, simulate, writer
from sim.normal import PATTERNS
from sim.score import read_alerts, read_normal, read_truths, score
from stream.engine import EngineContext, EngineState, finish, process
from stream.ping import parse_ping
from stream.registry import Registry
from tests.sim.conftest import START_MS

SEED, VEHICLES, HOURS = 5, 60, 8
BUSY_VEHICLES = 80  # seed 5 with 80 vehicles plays every normal-operation pattern
NEW_RULE_TRICKS = {"poach", "unsourced"}  # truths the issue-11 kitchen rules (H6) must find


def _night(normal_ops: bool, vehicles: int = VEHICLES):
    sim = simulate(vehicles, HOURS, SEED, START_MS, normal_ops=normal_ops)
    lines = [writer.line(p) for _, p in feed.arrivals(sim)]
    pings = [parse_ping(line, ref=n) for n, line in enumerate(lines, start=1)]
    ctx = EngineContext(
        FenceIndex(load_fences(writer.fences(sim.world))),
        Registry.from_mapping(writer.registry(sim.world)),
    )
    states, events = process(pings, ctx, EngineState())
    _, more = finish(ctx, states)
    final = {a["id"]: a for kind, a in [*events, *more] if kind == "alert"}
    alerts, bad = read_alerts([orjson.dumps(a) for a in final.values()])
    truths, bad_truths = read_truths([writer.line(writer.truth(t)) for t in sim.truths])
    assert not bad and not bad_truths
    normal = read_normal(orjson.loads(writer.json_text(writer.normal(sim))))
    return sim, truths, alerts, normal


@pytest.fixture(scope="module")
def plain():
    return _night(normal_ops=False)


@pytest.fixture(scope="module")
def busy():
    return _night(normal_ops=True, vehicles=BUSY_VEHICLES)


def _set_aside(sim, rows, tricks):
    vehicles = {p.vehicle.id for p in sim.plans if p.trick in tricks}
    return [r for r in rows if r.vehicle not in vehicles]


def _exact(result) -> dict:
    """Types that are not scored exactly: {type: (precision, recall, duplicates)}."""
    return {
        kind: (r["precision"], r["recall"], r["duplicates"])
        for kind, r in result["by_type"].items()
        if (r["precision"], r["recall"], r["duplicates"]) != (1.0, 1.0, 0)
    }


def test_the_night_holds_every_existing_type_and_the_near_threshold_cases(plain):
    sim, truths, _, normal = plain
    present = {t.type for t in _set_aside(sim, truths, NEW_RULE_TRICKS)}
    assert len(present) == 12  # every type but unsourced_delivery
    tricks = {p.trick for p in sim.plans}
    near = {
        "near_stop_long", "near_stop_short", "near_silent_long", "near_silent_short",
        "near_overspeed_long", "near_overspeed_short", "near_limit_above", "near_limit_below",
        "near_uncovered_long", "near_uncovered_short", "near_cooldown_apart",
        "near_cooldown_within", "near_deviation_far", "near_deviation_close",
        "near_round_late",
    }  # fmt: skip
    assert near <= tricks
    quiet = {t for t in tricks if t and t.endswith(("_short", "_below", "_within", "_close"))}
    assert {p for p, *_ in normal["episodes"]} == quiet  # the non-violations, as episodes


def test_every_existing_type_is_found_exactly_on_a_plain_night(plain):
    sim, truths, alerts, normal = plain
    result = score(
        _set_aside(sim, truths, NEW_RULE_TRICKS), _set_aside(sim, alerts, NEW_RULE_TRICKS), normal
    )
    assert _exact(result) == {}
    assert result["overall"]["found"] == result["overall"]["truths"] > 40
    assert result["normal"]["false_alarms"] == 0  # near-threshold non-violations included


def test_poaching_and_unsourced_deliveries_are_found_exactly(plain):
    sim, truths, alerts, normal = plain
    assert {p.trick for p in sim.plans} >= NEW_RULE_TRICKS
    result = score(truths, alerts, normal)
    assert _exact(result) == {}
    assert result["normal"]["false_alarms"] == 0


def test_normal_operation_raises_no_false_alarm(busy):
    """Checked since H5's muck rules landed (6b33190): with them the busy night's patterns raise
    nothing (the kitchen jams and docks raised nothing before either)."""
    sim, truths, alerts, normal = busy
    patterns = {p for p, *_ in normal["episodes"]}
    assert set(PATTERNS) <= patterns
    result = score(_set_aside(sim, truths, NEW_RULE_TRICKS),
                   _set_aside(sim, alerts, NEW_RULE_TRICKS), normal)  # fmt: skip
    assert result["normal"]["false_alarms"] == 0, result["normal"]["by_pattern"]
    assert _exact(result) == {}
