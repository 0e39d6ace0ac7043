"""Sampling a planned itinerary into reports (sim.track)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sim.track import Itinerary, trace


def test_a_trip_too_short_for_any_report_gives_an_empty_track():
    """Issue 11: ``landun sim --vehicles 3000`` (seed 1) crashed with an IndexError in trace().

    One of the unregistered trucks drew the same place twice: its drive was a 1-s stay, and no
    report fell before the end of its legs. This is that input.
    """
    it = Itinerary(1_000_000, np.array([0.0, 0.0]), sensors=False)
    it.drive(np.array([[0.0, 0.0], [0.0, 0.0]]), 30.0, stops=False)
    tr = trace(it.legs, it.t, (20, 60, 180), random.Random(3))
    assert len(tr) == 0 and tr.x.shape == (0,) and tr.leg.shape == (0,)


def _short_trip() -> tuple[list, int]:
    it = Itinerary(1_000_000, np.array([0.0, 0.0]), sensors=False)
    it.drive(np.array([[0.0, 0.0], [0.0, 0.0]]), 30.0, stops=False)
    return it.legs, it.t


def _after_the_horizon() -> tuple[list, int]:
    it = Itinerary(5_000_000, np.array([0.0, 0.0]), sensors=False)
    it.stay(600_000)
    return it.legs, 5_000_000  # the horizon ends where the stay begins


@pytest.mark.parametrize(
    "plan",
    [lambda: ([], 1_000_000), _short_trip, _after_the_horizon],
    ids=["no legs", "a 1-s trip", "legs from the end of the horizon on"],
)
def test_an_itinerary_without_a_report_gives_an_empty_track(plan):
    """Every way an itinerary can end up with no report gives the empty track, never an
    IndexError (issue 13: the crash of issue 11 came back to the newcomer as this)."""
    legs, t_end = plan()
    tr = trace(legs, t_end, (20, 60, 180), random.Random(3))
    assert len(tr) == 0
    for column in (tr.t, tr.x, tr.y, tr.speed, tr.heading, tr.leg):
        assert column.shape == (0,)
    assert tr.t.dtype == tr.leg.dtype == np.int64


class _SameChoice(random.Random):
    """A draw that always picks the first candidate (the seed-1 case: one place drawn twice)."""

    def choice(self, seq):
        return seq[0]


def test_unregistered_trucks_drive_between_two_different_places():
    from sim import noise
    from sim.scenario import build_world
    from tests.sim.conftest import START_MS

    world = build_world(300, 1, START_MS, START_MS + 4 * 3_600_000)
    rows = noise.unregistered(world, _SameChoice(1))
    by_truck: dict[str, list] = {}
    for vid, rec in rows:
        by_truck.setdefault(vid, []).append((rec.lat, rec.lng))
    assert len(by_truck) == 3
    for fixes in by_truck.values():
        lat, lng = np.array(fixes).T
        assert np.ptp(lat) + np.ptp(lng) > 0.01  # kilometres apart, not a standstill


def test_the_unregistered_trucks_of_the_seed_1_3000_vehicle_night_all_report():
    """Issue 13: ``landun demo --vehicles 3000`` and ``landun sim --vehicles 3000`` (seed 1)
    crashed with an IndexError in trace(); seed 2 did not.

    The run at fault, without the 3 minutes of the whole night: the same world (3000 vehicles,
    12 h from the default start, seed 1) and the same draw (``"1/unregistered"``, as
    ``sim.simulate`` seeds it). Every one of its 30 unregistered trucks must come out with a
    track: no crash, and no truck left silent by a trip too short to report.
    """
    from sim import noise
    from sim.scenario import build_world
    from tests.sim.conftest import START_MS

    world = build_world(3000, 1, START_MS, START_MS + 12 * 3_600_000)
    rows = noise.unregistered(world, random.Random("1/unregistered"))
    reports: dict[str, int] = {}
    for vid, _ in rows:
        reports[vid] = reports.get(vid, 0) + 1
    assert sorted(reports) == [f"V{3001 + i:04d}" for i in range(30)]
    assert min(reports.values()) >= 2  # a drive of kilometres, not one fix
