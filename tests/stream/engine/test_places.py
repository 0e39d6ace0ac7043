"""Fence visits: enter/exit hysteresis (no flapping), dwell, stops."""

from __future__ import annotations

from tests.stream.engine.world import LAT, R1, S1, T1, Trace, context, run

FULL = {"loaded": "full"}
GATE_OUT, GATE_IN = 120.32885, 120.32915  # T1's western edge is at 120.329


def gate_jitter(minutes: float = 6) -> Trace:
    """Load at S1, drive to T1's gate and stand there while GPS jitter crosses the edge."""
    tr = Trace("M1", "2025-06-01 21:00").drive(*S1, kmh=30).stay(360, **FULL)
    tr.drive(LAT, GATE_OUT, **FULL)
    for i in range(int(minutes * 2)):
        tr.place(LAT, GATE_IN if i % 2 == 0 else GATE_OUT).stay(30, **FULL)
    return tr.drive(LAT, 120.31, loaded="empty")


def events_for(outcome, fence):
    return [e["detect"] for e in outcome.fence_events if e["fence"] == fence]


def test_jitter_at_a_gate_does_not_flap():
    outcome = run(gate_jitter().pings)
    assert events_for(outcome, "T1") == ["enter", "exit"]


def test_jitter_at_a_gate_still_counts_as_the_unload_dwell():
    outcome = run(gate_jitter().pings)
    (trip,) = outcome.trips.values()
    assert trip["status"] == "delivered" and trip["unload_fence"] == "T1"
    assert outcome.types() == []


def test_exit_is_dated_at_the_first_ping_outside():
    tr = Trace("M1", "2025-06-01 21:00").drive(*T1, kmh=30).stay(120)
    tr.drive(LAT, 120.31, kmh=30, every=15)
    outcome = run(tr.pings)
    (exit_event,) = [
        e for e in outcome.fence_events if e["fence"] == "T1" and e["detect"] == "exit"
    ]
    last_in = max(p.ts for p in tr.pings if p.lng >= 120.329)
    first_out = next(p for p in tr.pings if p.ts > last_in)
    assert exit_event["lng"] == first_out.lng


def test_a_single_ping_outside_then_silence_does_not_exit():
    tr = Trace("M1", "2025-06-01 21:00").drive(*T1, kmh=30).stay(120).place(LAT, GATE_OUT)
    tr.stay(30)
    assert events_for(run(tr.pings), "T1") == ["enter"]


def test_passing_through_a_site_is_not_a_load():
    tr = Trace("M1", "2025-06-01 21:00").drive(*T1, kmh=40)
    outcome = run(tr.pings)
    assert events_for(outcome, "S1") == ["enter", "exit"]
    assert outcome.trips == {}


def test_short_dwell_is_not_a_load():
    tr = Trace("M1", "2025-06-01 21:00").drive(*S1, kmh=30).stay(150, **FULL)
    assert run(tr.drive(*T1, **FULL).pings).trips == {}


def test_slow_creeping_inside_a_site_still_dwells():
    """A truck moving about slowly (< 10 km/h) inside the site keeps its slow spell."""
    tr = Trace("M1", "2025-06-01 21:00").drive(S1[0], S1[1] - 0.0008, kmh=30).stay(60, speed=2)
    tr.drive(S1[0], S1[1] + 0.0008, kmh=7, every=20).stay(90, speed=1)
    (trip,) = run(tr.drive(*T1, **FULL).pings).trips.values()
    assert trip["site"] == "S1"


def test_stop_events_report_long_stops_by_displacement():
    tr = Trace("M1", "2025-06-01 21:00").drive(LAT, 120.30, kmh=40)
    for i in range(12):  # parked, GPS wandering by ~20 m
        tr.place(LAT + (0.0002 if i % 3 else -0.0001), 120.30 + 0.0001 * (i % 2)).stay(30)
    tr.drive(*T1, kmh=40)
    (stop,) = run(tr.pings).stops
    assert 300 <= stop["duration_s"] <= 400 and stop["at_known_place"] is False


def test_fence_events_name_the_kind():
    outcome = run(gate_jitter().pings)
    kinds = {e["fence"]: e["kind"] for e in outcome.fence_events}
    assert kinds["T1"] == "terminal" and kinds["S1"] == "site" and kinds["C1"] == "corridor"


def test_context_fencesets_are_interned():
    ctx = context()
    a = ctx.match(LAT, 120.27)
    assert a is ctx.match(LAT, 120.2701) and a.ids == ("C1", "S1")
    assert ctx.fenceset(["S1", "C1"]) is a


def sparse_collection(wait_s: float) -> Trace:
    """A kitchen vehicle at R1 reporting about once a minute: its slow pings span 2:54; then,
    ``wait_s`` later, it drives off at 34 km/h (first moving ping ~17.6 s after leaving)."""
    tr = Trace("K1", "2025-06-01 09:00").drive(R1[0] + 0.003, R1[1], kmh=30, every=20)
    tr.place(*R1).stay(55, every=55).stay(174, every=58)
    return tr.wait(wait_s).drive(R1[0] - 0.003, R1[1], kmh=34, every=20)


def test_dwell_lasting_until_the_vehicle_left_between_sparse_pings():
    pings = sparse_collection(40).pings
    slow = [p.ts for p in pings if p.speed_kmh == 0]
    assert slow[-1] - slow[0] == 174_000  # under the 3-minute dwell on its face
    (rnd,) = run(pings).trips.values()  # but it stood there ~3:34 before leaving
    assert rnd["producers"] == ["R1"]


def test_short_stop_between_sparse_pings_is_not_a_dwell():
    assert run(sparse_collection(0).pings).trips == {}  # left right after its last slow ping


def test_visits_only_in_the_vehicles_own_corridors():
    """C1 is on M1's permit, not on M2's (it has none): both drive along it, only M1 gets
    corridor events; both get the depot's and the site's."""
    m1 = Trace("M1", "2025-06-01 21:00").drive(*S1, kmh=30).drive(LAT, 120.30, kmh=30)
    m2 = Trace("M2", "2025-06-01 21:00").drive(*S1, kmh=30).drive(LAT, 120.30, kmh=30)
    outcome = run(sorted(m1.pings + m2.pings, key=lambda p: p.ts))
    by_vehicle = {
        v: {(e["fence"], e["detect"]) for e in outcome.fence_events if e["vehicle"] == v}
        for v in ("M1", "M2")
    }
    assert ("C1", "enter") in by_vehicle["M1"]
    assert {f for f, _ in by_vehicle["M2"]} == {"D1", "S1"}
    assert {f for f, _ in by_vehicle["M1"]} == {"D1", "S1", "C1"}
