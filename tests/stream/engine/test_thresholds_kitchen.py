"""Just below / just above every threshold of the kitchen, signal-lost and restricted-zone rules
(issue 11, "Thresholds the tests must pin"): each pair sits within seconds or metres of its
threshold, so moving a default (signal lost 10 -> 14 min, cooldown 10 -> 13 min, ...) turns one
side of its pair wrong. Each pair runs with the defaults (``Thresholds()``).
"""

from __future__ import annotations

import pytest

from tests.stream.engine.kitchen_world import R3, context, dwell, inch, offset, reappear, stand
from tests.stream.engine.world import D2, P1, R1, R2, Z1, Trace, run

S = 1000  # ms per second
# The defaults, as the bureau set them (docs/domain.md, issue 11), written out rather than read from
# Thresholds(): moving a default must fail a pair, not move the pair with it.
UNREGISTERED_STOP_S = 180
DWELL_S = 180
ROUND_DEADLINE_S = 6 * 3600
SIGNAL_LOST_S = 600
DOCK_WAIT_S = 3600
DOCK_REACH_M = 100.0
COLLECTION_RADIUS_M = 40.0
COOLDOWN_S = 600
CROSSING_GAP_S = 300


def start(vehicle: str = "K1", at: str = "2025-06-01 09:00") -> Trace:
    return Trace(vehicle, at).stay(60)


# -- the builders: one situation each, the threshold's quantity as the argument ------------------
def unregistered_stop(seconds: float):
    """K1 stopped at R2 (no producer there) for ``seconds``, first ping to last."""
    tr = start().drive(*R2, kmh=30)
    return dwell(tr, seconds).drive(*P1, kmh=30).stay(60).pings


def collection_dwell(seconds: float):
    """K1 dwells ``seconds`` at R3, on another company's contract (poaching when collected)."""
    tr = start().drive(*R3, kmh=30)
    return dwell(tr, seconds).drive(*D2, kmh=30).stay(60).pings


def delivery_dwell(seconds: float):
    """K1's history starts with a dwell of ``seconds`` at the plant (unsourced when delivered)."""
    tr = start().drive(*P1, kmh=30)
    return dwell(tr, seconds).drive(*D2, kmh=30).stay(60).pings


def delivered_after(seconds: float):
    """K1 collects at R1, parks at its depot, and starts its delivery dwell at P1 ``seconds``
    after the start of the collection."""
    tr = start().drive(*R1, kmh=30)
    collection = tr.t + 5 * S  # the first ping of the dwell
    dwell(tr, 300).drive(*D2, kmh=30)
    probe = Trace("K1", 0).place(*D2).drive(*P1, kmh=30)  # how long the drive takes
    arrive = collection + int(seconds * S) - (probe.t - 5 * S)
    while tr.t + 300 * S < arrive:
        tr.stay(300, every=300)
    tr.t = arrive - 5 * S  # the depot's last ping was less than 5 minutes ago
    tr.stay(5, every=5).drive(*P1, kmh=30)
    return dwell(tr, 300).drive(*D2, kmh=30).stay(60).pings


def dark_on_the_road(seconds: float):
    """K1, its round open, without a position for ``seconds`` on the road."""
    tr = start().drive(*R1, kmh=30).stay(300).drive(31.475, 120.310, kmh=30)
    reappear(tr, seconds, (31.475, 120.312), kmh=30)
    return tr.drive(*P1, kmh=30).stay(300).pings


def dark_in_the_dock(seconds: float, metres_out: float = 70.0):
    """K1 collects at R1, stands ``metres_out`` outside R1's 40 m circle (the dock under the
    ramp), no position for ``seconds``, seen again at the same spot."""
    tr = start().drive(*R1, kmh=30).stay(300)
    spot = offset(R1, north_m=-(40.0 + metres_out))
    tr.drive(*spot, kmh=10)
    stand(tr, 30)
    reappear(tr, seconds, spot)
    return tr.drive(*P1, kmh=30).stay(300).pings


def two_stops(apart: float):
    """K1 stops 3 min 10 s at R2, drives round, and stops 3 min 10 s again 2 km east, the
    second stop starting ``apart`` seconds after the first."""
    tr = start().drive(*R2, kmh=30)
    first = tr.t + 5 * S
    dwell(tr, 190).drive(31.48, 120.330, kmh=30).drive(31.49, 120.330, kmh=30)
    tr.drive(31.49, 120.331, kmh=30)
    tr.t = first + int(apart * S) - 5 * S
    tr.place(31.49, 120.331)
    return dwell(tr, 190).drive(31.49, 120.34, kmh=30).pings


def crossing(gap: float):
    """K1 passes Z2 (always restricted) between two fixes ``gap`` seconds apart."""
    tr = Trace("K1", "2025-06-01 12:00").place(31.42, 120.40)
    tr.stay(15, every=15, speed=30)
    reappear(tr, gap, (31.44, 120.40), kmh=30)
    return tr.drive(31.445, 120.40, kmh=30).pings


def in_z1_at(clock: str):
    """M1 (muck) stands inside Z1 (07:00-09:00, muck only) for one minute from ``clock``."""
    return Trace("M1", f"2025-06-02 {clock}").place(*Z1).stay(60, every=15).pings


def inching(metres: float):
    """K1 at R2 inching ``metres`` east in 3 min 10 s, reporting 1 km/h."""
    tr = start().drive(*R2, kmh=30).stay(5, every=5, speed=1.0)
    inch(tr, 190, metres, every=10)
    return tr.drive(*P1, kmh=30).stay(60).pings


# -- the pairs ------------------------------------------------------------------------------------
# name: (builder, argument just on the quiet side, argument just on the alerting side, what the
# alerting side raises); the quiet side raises nothing, except the cooldown's (one alert, not two).
UC = ["unregistered_collection"]
PAIRS = {
    "unregistered_stop_ms": (
        unregistered_stop,
        UNREGISTERED_STOP_S - 15,
        UNREGISTERED_STOP_S + 15,
        UC,
    ),
    "dwell_ms: collection": (
        collection_dwell,
        DWELL_S - 15,
        DWELL_S + 15,
        UC,
    ),
    "dwell_ms: delivery": (
        delivery_dwell,
        DWELL_S - 15,
        DWELL_S + 15,
        ["unsourced_delivery"],
    ),
    "round_deadline_ms": (
        delivered_after,
        ROUND_DEADLINE_S - 15,
        ROUND_DEADLINE_S + 15,
        ["undelivered_collection"],
    ),
    "signal_lost_ms": (
        dark_on_the_road,
        SIGNAL_LOST_S - 30,
        SIGNAL_LOST_S + 30,
        ["signal_lost"],
    ),
    "dock_wait_ms": (  # past it the vehicle is not taken to have stood in the dock: the
        dark_in_the_dock,  # stop across the gap, outside R1's circle, is judged as any stop
        DOCK_WAIT_S - 30,
        DOCK_WAIT_S + 30,
        ["signal_lost", "unregistered_collection"],
    ),
    "dock_reach_m": (  # beyond it, the 14-minute stop across the gap is outside every place
        lambda metres: dark_in_the_dock(14 * 60, metres),
        DOCK_REACH_M - 10,
        DOCK_REACH_M + 10,
        ["signal_lost", "unregistered_collection"],
    ),
    "collection_radius_m (a jam is not a stop)": (
        inching,
        COLLECTION_RADIUS_M + 5,
        COLLECTION_RADIUS_M - 5,
        UC,
    ),
    "cooldown_ms": (
        two_stops,
        COOLDOWN_S - 15,
        COOLDOWN_S + 15,
        UC * 2,
    ),
    "crossing_gap_ms": (
        crossing,
        CROSSING_GAP_S + 15,
        CROSSING_GAP_S - 15,
        ["restricted_zone"],
    ),
    "restricted window opens (07:00)": (in_z1_at, "06:58:00", "06:59:45", ["restricted_zone"]),
    "restricted window closes (09:00)": (in_z1_at, "08:59:45", "08:58:00", ["restricted_zone"]),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_quiet_side_and_alerting_side_of_each_threshold(name):
    build, quiet, alerting, raised = PAIRS[name]
    ctx = context()
    expected_quiet = UC if name == "cooldown_ms" else []
    assert run(build(quiet), ctx).types() == expected_quiet, f"{name} at {quiet}"
    assert run(build(alerting), ctx).types() == raised, f"{name} at {alerting}"
