"""A ping's parsing warnings (a bad optional field dropped, issue 11) reach the officer, and
survive the engine's state.

A gateway sending ``"lift": 1`` silently blinds every tipper rule: the warnings must be seen in
the evidence of the alerts those pings are part of, and a run resumed from its checkpoint must
say exactly what the whole run says."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from stream.engine import EngineState, process
from stream.ping import Ping, parse_ping
from tests.stream.engine.test_alerts import overspeed
from tests.stream.engine.test_determinism import mixed_input, split_run, whole_run
from tests.stream.engine.world import context, run

LIFT = "lift: expected true or false, got 1"


def warned(pings: list[Ping], every: int = 1) -> list[Ping]:
    """The pings as a gateway sending ``"lift": 1`` on every ``every``-th of them delivers."""
    return [
        dataclasses.replace(p, warnings=(LIFT,)) if i % every == 0 else p
        for i, p in enumerate(pings)
    ]


@pytest.mark.parametrize(
    ("warn", "expect"),
    [
        (True, [LIFT]),  # every ping warned: every evidence ping says so
        (False, None),  # none warned: no key at all (outputs byte-identical to before)
    ],
)
def test_evidence_pings_carry_their_warnings(warn, expect):
    pings = overspeed(75, 120)
    (alert,) = run(warned(pings) if warn else pings).of("overspeed")
    evidence = alert["evidence"]["pings"]
    assert len(evidence) >= 3
    assert [e.get("warnings") for e in evidence] == [expect] * len(evidence)
    assert all(("warnings" in e) == warn for e in evidence)


def test_a_warning_parsed_from_the_wire_is_in_the_evidence():
    wire = [{**p.to_dict(), "lift": 1} for p in overspeed(75, 120)]
    (alert,) = run([parse_ping(d) for d in wire]).of("overspeed")
    assert {tuple(e["warnings"]) for e in alert["evidence"]["pings"]} == {(LIFT,)}


def test_a_run_split_anywhere_gives_the_same_evidence_warnings():
    """The evidence pings of a resumed run come from the checkpoint's recent pings: their
    warnings must be in it (a 5th item), else the resumed run's evidence loses them."""
    pings = warned(list(mixed_input()), every=3)
    whole = whole_run(pings)
    assert any("warnings" in e for a in whole["alerts"].values() for e in a["evidence"]["pings"])
    for k in (150, 300, 420, 460, 600):  # 420 and 460 resume just before such alerts
        assert split_run(pings, k) == whole, k


def test_held_pings_with_warnings_round_trip_through_the_state():
    """Issue 11: ``Ping(**d)`` gave ``warnings`` back as a list, so a held ping (pending, the
    beat, the limbo) was not the ping it was."""
    pings = warned(list(mixed_input()))
    states, _ = process(pings[:700], context())
    again = EngineState.from_dict(orjson.loads(orjson.dumps(states.to_dict())))
    held = 0
    for vehicle, vs in states.vehicles.items():
        back = again.vehicles[vehicle]
        assert back.beat == vs.beat
        assert [p for p, _ in back.pending] == [p for p, _ in vs.pending]
        assert [p for _, p, _ in back.limbo] == [p for _, p, _ in vs.limbo]
        assert [r.warnings for r in back.live.recent] == [r.warnings for r in vs.live.recent]
        held += len(vs.pending) + (vs.beat is not None) + len(vs.limbo)
    assert held, "nothing held: the test checks nothing"
    assert isinstance(next(iter(again.vehicles.values())).beat.warnings, tuple)


def test_a_state_without_warnings_is_written_as_before():
    states, _ = process(list(mixed_input()[:700]), context())
    for vs in states.vehicles.values():
        assert all(len(r) == 4 for r in vs.live.to_dict()["recent"])
