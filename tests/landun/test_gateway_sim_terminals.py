"""`landun sim-terminals`' plan: what each simulated terminal sends, and the registry it needs."""

from __future__ import annotations

import pytest

from landun.cli import main as landun
from landun.commands.sim_terminals import reports, terminal_registry
from sim import DEFAULT_START, simulate
from stream.eventtime import parse_ts
from stream.registry import Registry


@pytest.fixture(scope="module")
def night():
    return simulate(20, 3.0, 7, parse_ts(DEFAULT_START))


def test_each_terminal_sends_its_reports_once_blind_area_ones_as_batches(night):
    plan = reports(night)
    registered = {v.id for v in night.world.vehicles}
    assert set(plan) <= registered
    originals = sum(1 for vid, r in night.records if vid in registered and not r.dup)
    assert sum(len(pings) for sends in plan.values() for _, pings, _ in sends) == originals
    batches = [s for sends in plan.values() for s in sends if s[2]]
    assert batches and any(len(p) > 1 for _, p, _ in batches)
    for sends in plan.values():
        assert [a for a, _, _ in sends] == sorted(a for a, _, _ in sends)
        for _, pings, blind in sends:
            assert all(bool(p.get("backfill")) == blind for p in pings)
            assert (blind and len(pings) <= 20) or len(pings) == 1


def test_the_registry_names_each_terminals_datum_and_sensor(night):
    doc = terminal_registry(night.world)
    Registry.from_mapping(doc)  # still a valid registry for the engine
    by_id = {v.id: v for v in night.world.vehicles}
    for entry in doc["vehicles"]:
        v = by_id[entry["id"]]
        assert entry["terminal_datum"] == ("gcj02" if v.forwarded else "wgs84")
        assert entry["load_sensor"] == (v.kind == "muck" and v.sensors)
    assert {e["terminal_datum"] for e in doc["vehicles"]} == {"gcj02", "wgs84"}


@pytest.mark.parametrize(
    "args", [["--gateway", "nohost"], ["--gateway", "h:1", "--rate", "0"],
             ["--gateway", "h:1", "--start", "yesterday"]],
)  # fmt: skip
def test_bad_arguments_exit_2(args):
    assert landun(["sim-terminals", *args]) == 2
