"""Signal lost inside a registered place, seen again in that same place, is not ``signal_lost``
(issue 11, docs/domain.md "What the bureau does not want flagged"): a kitchen collection in a mall's
basement loading dock, 14 minutes without a position. The gap is decided when the vehicle is
seen again, so the answer is the same with or without other vehicles moving the watermark
during the gap (run alone, and beside a truck parked at its depot).
"""

from __future__ import annotations

import pytest

from tests.stream.engine.kitchen_world import RAMP, context, offset, reappear, stand
from tests.stream.engine.test_alerts import FULL, loaded_at_site
from tests.stream.engine.world import D2, LAT, P1, R1, S1, T1, Trace, merged, parked, run

AWAY = offset(R1, east_m=2000.0)  # 2 km from the mall, outside every place
ROAD = (31.475, 120.310)  # on the way from R1 to P1, outside every place
DARK_S = 14 * 60


def collected() -> Trace:
    """K1 collects at R1 (the mall) for 5 minutes: a round is open, the vehicle is loaded."""
    return Trace("K1", "2025-06-01 09:00").stay(60).drive(*R1, kmh=30).stay(300)


def last_fix(where: str) -> Trace:
    tr = collected()
    if where == "ramp":  # down the ramp to the basement dock, 70 m outside the circle
        tr.drive(*RAMP, kmh=10)
        stand(tr, 30)
    elif where == "road":
        tr.drive(*ROAD, kmh=30)
    return tr


def dock(where: str, seen_again, dark_s: float = DARK_S) -> Trace:
    tr = last_fix(where)
    reappear(tr, dark_s, seen_again)
    return tr.drive(*P1, kmh=30).stay(300).drive(*D2).stay(60)


CASES = {
    "14 min dark in the dock, reappears on the ramp": (("ramp", RAMP), []),
    "14 min dark on the ramp, reappears inside the mall": (("ramp", R1), []),
    "14 min dark inside the mall, reappears there": (("inside", R1), []),
    "14 min dark inside the mall, reappears 2 km away": (("inside", AWAY), ["signal_lost"]),
    "14 min dark leaving from the dock, reappears 2 km away": (("ramp", AWAY), ["signal_lost"]),
    "14 min dark on the road": (("road", offset(ROAD, east_m=900)), ["signal_lost"]),
    "14 min dark on the road, reappears at the mall": (("road", R1), ["signal_lost"]),
}


@pytest.mark.parametrize("companion", [False, True], ids=["alone", "beside a parked truck"])
@pytest.mark.parametrize("name", list(CASES))
def test_signal_lost_in_a_dock(name, companion):
    (where, seen_again), expected = CASES[name]
    tr = dock(where, seen_again)
    pings = merged(tr, parked(start="2025-06-01 08:50", hours=2)) if companion else tr.pings
    assert run(pings, context()).types("K1") == expected


def test_a_gap_in_the_dock_never_ended_is_raised_at_the_bound():
    """Never seen again: beside a vehicle that keeps the watermark moving, the gap that began
    at the mall is decided when ``dock_wait_ms`` (1 h) has passed, dated at the last fix."""
    tr = last_fix("ramp")
    outcome = run(merged(tr, parked(start="2025-06-01 08:50", hours=3)), context())
    (alert,) = outcome.of("signal_lost")
    assert alert["ts"] == alert["evidence"]["pings"][0]["ts"]
    assert alert["ended_ts"] is None and alert["evidence"]["gap_s"] is None
    short = run(merged(tr, parked(start="2025-06-01 08:50", hours=1.2)), context())
    assert short.types("K1") == []  # the watermark stops before the bound: nothing yet


def test_signal_lost_evidence_gives_the_gap_in_whole_seconds_and_both_fixes():
    tr = dock("ramp", AWAY)
    (alert,) = run(tr.pings, context()).of("signal_lost")
    before, after = alert["evidence"]["pings"]
    assert alert["evidence"]["gap_s"] == DARK_S and isinstance(alert["evidence"]["gap_s"], int)
    assert alert["ts"] == before["ts"] and alert["ended_ts"] == after["ts"]
    assert (after["lat"], after["lng"]) == pytest.approx(AWAY)
    assert alert["trip"] is not None  # the open round


def muck_dark_at_site(seen_again) -> list:
    """M1 loaded at S1 goes dark in the site's loading shed for 14 min, then delivers to T1
    (the corridor C1 runs east from S1)."""
    tr = loaded_at_site()
    reappear(tr, DARK_S, seen_again)
    tr.drive(*T1, **FULL).stay(400, **FULL).stay(60, loaded="empty")
    return tr.drive(LAT, 120.31).pings


@pytest.mark.parametrize(
    ("seen_again", "expected"),
    [(S1, []), (offset(S1, east_m=2000), ["signal_lost"])],
    ids=["reappears in the site", "reappears 2 km away"],
)
def test_muck_truck_dark_in_its_site(seen_again, expected):
    assert run(muck_dark_at_site(seen_again), context()).types("M1") == expected
