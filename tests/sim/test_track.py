"""Sampling a planned itinerary into reports (sim.track)."""

from __future__ import annotations

import random

import numpy as np

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
