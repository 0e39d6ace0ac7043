"""A reported speed no vehicle drives is ignored with a warning (issue 11 review).

JT/T 808 terminals send 0xFFFF/10 = 6553.5 km/h for "speed unknown"; taken as reported, a truck
standing still for 5 minutes raised ``overspeed`` with ``peak_kmh`` 6553.5. A reported speed above
``max_reported_kmh`` (default 250) or below 0 is now ignored: the speed implied by the track is
used, as for a ping reporting none, and the ping carries a ``speed_kmh`` warning.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from stream.engine import finish, process
from tests.stream.engine.world import LAT, Outcome, Trace, context

WARNED = "speed_kmh: not a speed a vehicle reports (outside 0..250 km/h)"


def standing(kmh: float) -> list:
    """A muck truck standing on the road for 5 minutes, reporting ``kmh`` every 10 s."""
    return Trace("M1", "2025-06-01 23:00").place(LAT, 120.28).stay(300, every=10, speed=kmh).pings


def driving(kmh: float) -> list:
    """The truck driving 80 km/h for 2 minutes (then slow), every fix reporting ``kmh``."""
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28)
    tr.drive(LAT, 120.28 + 80 / 3.6 * 120 / 95_000, kmh=80, every=10).stay(120, every=10)
    return [replace(p, speed_kmh=kmh) for p in tr.pings]


# (case, pings, peak_kmh of the one overspeed or None for none, warned: the pings kept warned)
CASES = [
    ("standing, 249.9 reported: taken", standing(249.9), 249.9, False),
    ("standing, 250.1 reported: ignored", standing(250.1), None, True),
    ("standing, JT/T 808 unknown 6553.5", standing(6553.5), None, True),
    ("standing, negative", standing(-1.0), None, True),
    ("standing, 0 reported: taken", standing(0.0), None, False),
    ("driving 80, 6553.5 reported: the track's 80", driving(6553.5), 80.0, True),
    ("driving 80, 0 reported: taken (the terminal says 0)", driving(0.0), None, False),
]


@pytest.mark.parametrize(
    ("pings", "peak", "warned"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_impossible_reported_speed_is_ignored_with_a_warning(pings, peak, warned):
    sent = [p.speed_kmh for p in pings]
    ctx = context()
    states, events = process(pings, ctx)
    kept = list(states.vehicles["M1"].live.recent)
    states, more = finish(ctx, states)
    outcome = Outcome(events + more)
    assert not outcome.rejected
    overspeeds = outcome.of("overspeed")
    if peak is None:
        assert overspeeds == []
    else:
        (alert,) = overspeeds
        assert abs(alert["evidence"]["peak_kmh"] - peak) < 2.0, alert["evidence"]
    warnings = [w for p in kept for w in p.warnings or ()]
    if warned:
        assert len(warnings) == len(kept) and all(w.startswith(WARNED) for w in warnings)
        assert warnings[0].endswith(f"got {sent[0]!r}")
        assert all(p.speed_kmh is None for p in kept)  # dropped, as parsing drops a bad field
    else:
        assert warnings == []
    assert [p.speed_kmh for p in pings] == sent  # the caller's pings are left as sent
    assert all(p.warnings is None for p in pings)


def test_the_warning_travels_into_the_evidence():
    (alert,) = Outcome(_run(driving(6553.5))).of("overspeed")
    shown = alert["evidence"]["pings"]
    assert shown and all(WARNED in " ".join(p.get("warnings", ())) for p in shown)


def test_the_bound_is_a_threshold():
    """``max_reported_kmh`` 300: 260 reported while standing is taken, and raises."""
    ctx = context(max_reported_kmh=300.0)
    (alert,) = Outcome(_run(standing(260.0), ctx)).of("overspeed")
    assert alert["evidence"]["peak_kmh"] == 260.0


def _run(pings, ctx=None):
    ctx = ctx or context()
    states, events = process(pings, ctx)
    return events + finish(ctx, states)[1]
