"""Ground truth: every violation type, detectable inside the horizon, windows around ts."""

from __future__ import annotations

import json
from collections import defaultdict

from sim.violations import ALERT_TYPES
from stream.eventtime import parse_ts

HOUR = 3_600_000


def _truths(out):
    return [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines()]


def test_every_alert_type_is_injected(sim60_dir):
    out, counts = sim60_dir
    types = {t["type"] for t in _truths(out)}
    assert types == set(ALERT_TYPES)
    assert all(counts[k] >= 1 for k in ALERT_TYPES)


def test_truth_records_have_the_contract_fields_and_windows_around_ts(sim60, sim60_dir):
    out, _ = sim60_dir
    vehicles = {v.id for v in sim60.world.vehicles}
    for t in _truths(out):
        assert set(t) == {"type", "vehicle", "ts", "window", "note"}
        assert t["vehicle"] in vehicles and t["note"]
        ts, (lo, hi) = parse_ts(t["ts"]), map(parse_ts, t["window"])
        assert lo < ts < hi and hi - lo <= 10 * 60_000
        assert sim60.world.start_ms <= ts < sim60.world.end_ms


def test_deadline_truths_leave_time_for_the_deadline_to_pass(sim60):
    end = sim60.world.end_ms
    deadlines = {"unmatched_source": 4 * HOUR, "undelivered_collection": 6 * HOUR}
    for t in sim60.truths:
        if t.type in deadlines:
            assert t.ts + deadlines[t.type] + 10 * 60_000 <= end


def test_no_two_truths_of_a_type_and_vehicle_sit_near_the_cooldown(sim60):
    """Except the near-threshold cooldown case (sim.near), which sits there on purpose."""
    near = {p.vehicle.id for p in sim60.plans if p.trick == "near_cooldown_apart"}
    by_key = defaultdict(list)
    for t in sim60.truths:
        if t.vehicle in near:
            continue
        by_key[(t.type, t.vehicle)].append(t.ts)
    for times in by_key.values():
        times.sort()
        for a, b in zip(times, times[1:], strict=False):
            assert b - a > 12 * 60_000  # clear of the engine's 10-minute cooldown


def test_dump_that_never_arrives_is_recorded_with_its_consequences(sim60):
    """A silent dump implies both the gap and the unmatched load, for the same truck."""
    by_trick = defaultdict(list)
    for plan in sim60.plans:
        by_trick[plan.trick].append(plan)
    for name, want in (
        ("dark_dump", {"signal_lost", "unmatched_source"}),
        ("backfill_dump", {"signal_lost", "suspected_dumping", "unmatched_source"}),
        ("lift_dump", {"suspected_dumping", "unmatched_source"}),
    ):
        assert by_trick[name], name
        for plan in by_trick[name]:
            got = {t.type for t in sim60.truths if t.vehicle == plan.vehicle.id}
            assert got == want, (name, plan.vehicle.id, got)
    for plan in by_trick["wrong_terminal"]:  # the way there may or may not leave the corridor
        got = {t.type for t in sim60.truths if t.vehicle == plan.vehicle.id}
        assert {"unapproved_terminal"} <= got <= {"unapproved_terminal", "route_deviation"}
