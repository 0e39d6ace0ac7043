"""Late and out-of-order data: the reorder window, blind-area backfill, stale pings."""

from __future__ import annotations

import dataclasses

from stream.ping import Ping
from tests.stream.engine.world import D1, LAT, S1, T1, Trace, merged, parked, run

FULL = {"loaded": "full"}


def loaded_on_the_road() -> Trace:
    tr = Trace("M1", "2025-06-01 21:00").stay(60).drive(*S1, kmh=30)
    return tr.stay(360, **FULL).drive(LAT, 120.28, **FULL)


def as_backfill(pings: list[Ping], flag: bool = True) -> list[Ping]:
    return [dataclasses.replace(p, backfill=flag or None) for p in pings]


def blind_area_dump(backfill_flag: bool = True, batch_first: bool = False) -> list[Ping]:
    """The truck goes dark at 120.28; while dark it stops 8 minutes on the road and raises the
    tipper; live reports resume at 120.32. The blind-area batch arrives after the live ones
    (or, with ``batch_first``, just before them)."""
    live = loaded_on_the_road()
    cut = len(live.pings)
    live.drive(LAT, 120.30, **FULL).stay(480, loaded="full").stay(60, lift=True, loaded="empty")
    live.drive(LAT, 120.32, loaded="empty")
    dark = live.pings[cut:]
    live.drive(LAT, 120.26, loaded="empty").stay(120, loaded="empty")
    resumed = live.pings[cut + len(dark) :]
    bg = parked(hours=3)
    before = [p for p in merged(bg) if p.ts <= resumed[0].ts]
    after = [p for p in merged(bg) if p.ts > resumed[0].ts]
    batch = as_backfill(dark, backfill_flag)
    ordered_live = sorted(live.pings[:cut] + before, key=lambda p: p.ts)
    if batch_first:
        return ordered_live + batch + resumed + after
    return ordered_live + resumed[:3] + batch + resumed[3:] + after


def test_blind_area_batch_reveals_a_roadside_dump():
    outcome = run(blind_area_dump())
    dumps = outcome.of("suspected_dumping")
    assert len(dumps) == 1 and dumps[0]["late"] is True
    assert 120.299 < dumps[0]["lng"] < 120.301
    (lost,) = outcome.of("signal_lost")
    assert lost["late"] is False and lost["ended_ts"] is not None
    assert outcome.reasons() == []


def test_unflagged_batch_far_behind_is_still_backfill():
    dumps = run(blind_area_dump(backfill_flag=False)).of("suspected_dumping")
    assert [d["late"] for d in dumps] == [True]


def test_batch_arriving_before_live_resumes_is_replayed_in_order():
    outcome = run(blind_area_dump(batch_first=True))
    assert [d["late"] for d in outcome.of("suspected_dumping")] == [True]
    assert len(outcome.of("signal_lost")) == 1  # backfilled pings do not end a live gap


def test_backfilled_unload_closes_the_trip_once():
    """Dark on the way, the truck unloads at T1; live resumes while it is still there."""
    live = loaded_on_the_road()
    cut = len(live.pings)
    live.drive(*T1, **FULL).stay(120, **FULL)  # dark for under 10 minutes
    dark = live.pings[cut:]
    live.stay(150, loaded="empty").drive(LAT, 120.31, loaded="empty").stay(60)
    resumed = live.pings[cut + len(dark) :]
    pings = live.pings[:cut] + resumed[:2] + as_backfill(dark) + resumed[2:]
    outcome = run(sorted(pings[: cut + 2], key=lambda p: p.ts) + pings[cut + 2 :])
    assert outcome.types() == []
    (trip,) = outcome.trips.values()
    assert trip["status"] == "delivered" and trip["unload_fence"] == "T1"


def test_reorder_window_absorbs_jitter():
    """Pings 4 s apart arriving pairwise swapped give exactly the in-order result."""
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28)
    tr.drive(LAT, 120.30, kmh=75, every=4).drive(LAT, 120.28, kmh=30, every=4)
    in_order = tr.pings
    swapped = list(in_order)
    for i in range(0, len(swapped) - 1, 2):
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    a, b = run(in_order), run(swapped)
    assert a.alerts == b.alerts and a.types() == ["overspeed"]
    assert b.reasons() == []


def test_older_than_the_window_is_stale_not_reordered():
    tr = Trace("M1", "2025-06-01 21:00").stay(300, every=10)
    p = tr.pings
    late = dataclasses.replace(p[7], ts=p[7].ts + 3000)  # between p7 and p8, after p9 arrived
    assert run([*p[:10], late, *p[10:]]).reasons() == ["stale"]
    within = dataclasses.replace(p[8], ts=p[8].ts + 3000)  # between p8 and p9: still buffered
    assert run([*p[:10], within, *p[10:]]).reasons() == []


def test_live_clock_never_goes_back():
    """A backfill older than the live stream never moves the live track back in time."""
    pings = blind_area_dump()
    from stream.engine import finish, process
    from tests.stream.engine.world import context

    ctx = context()
    states, _ = process(pings, ctx)
    states, _ = finish(ctx, states)
    vs = states.vehicles["M1"]
    assert vs.live.last_ts == max(p.ts for p in pings if p.vehicle == "M1" and not p.backfill)
    assert vs.shadow is not None and vs.shadow.last_ts < vs.live.last_ts


def _unload_in_the_dark(then, resumes=(LAT, 120.275), reload=True) -> tuple[list, list, list]:
    """Trip 1 goes dark after leaving S1 and unloads at T1 in the blind area; live resumes at
    ``resumes``; with ``reload`` the truck loads trip 2 at S1; then ``then`` (the Trace,
    continued) goes on. Returns the live pings before, the batch, the live pings after."""
    tr = Trace("M1", "2025-06-01 21:00").stay(60).drive(*S1, kmh=30)
    tr.stay(360, **FULL).drive(LAT, 120.285, **FULL)
    n_live = len(tr.pings)
    tr.drive(*T1, **FULL).stay(400, **FULL).stay(60, loaded="empty")
    tr.drive(*resumes, loaded="empty")
    n_dark = len(tr.pings)
    if reload:
        tr.drive(*S1, kmh=20, loaded="empty").stay(300, loaded="empty").stay(60, **FULL)
    then(tr)
    return tr.pings[:n_live], as_backfill(tr.pings[n_live:n_dark]), tr.pings[n_dark:]


def test_a_late_unload_delivers_the_trip_it_belonged_to():
    """The batch arrives during trip 2: trip 1 was delivered after all; its unmatched_source
    (raised when trip 2 loaded) is resolved, and no unmatched_disposal is made up."""
    live1, batch, live2 = _unload_in_the_dark(
        lambda tr: tr.drive(*T1, **FULL).stay(400, **FULL).stay(60, loaded="empty")
    )
    cut = next(i for i, p in enumerate(live2) if p.ts >= live2[0].ts + 20 * 60_000)
    out = run(live1 + live2[:cut] + batch + live2[cut:])
    trips = sorted(out.trips.values(), key=lambda t: t["load_ts"])
    assert [(t["status"], t["unload_fence"]) for t in trips] == [("delivered", "T1")] * 2
    (source,) = out.of("unmatched_source")
    assert source["ended_ts"] == trips[0]["unload_ts"] and source["evidence"]["resolved_by"]
    assert "unmatched_disposal" not in out.types()


def test_a_late_unload_does_not_deliver_a_trip_loaded_after_it():
    """The batch arrives while trip 2 is on the road; trip 2 then dumps off its route."""
    live1, batch, live2 = _unload_in_the_dark(
        lambda tr: tr.drive(LAT, 120.30, **FULL).drive(31.53, 120.30, **FULL).stay(600, **FULL)
        .drive(*D1, loaded="empty").stay(6 * 3600, every=300, loaded="empty")
    )  # fmt: skip
    cut = next(i for i, p in enumerate(live2) if p.ts >= live2[0].ts + 10 * 60_000)
    bg = parked().pings
    out = run(
        sorted(live1 + live2[:cut] + bg[:40], key=lambda p: p.ts)
        + batch
        + sorted(live2[cut:] + bg[40:], key=lambda p: p.ts)
    )
    trips = sorted(out.trips.values(), key=lambda t: t["load_ts"])
    assert [t["status"] for t in trips] == ["delivered", "unmatched"]
    assert {"route_deviation", "suspected_dumping"} <= set(out.types())


def test_the_drive_after_a_late_unload_is_empty_for_a_truck_without_a_sensor():
    """Trip 1 unloads at T1 in the dark, then parks off the route; trip 2 loads before the
    batch arrives. Nothing after the unload is judged as loaded."""
    tr = Trace("M1", "2025-06-01 21:00").stay(60).drive(*S1, kmh=30)
    tr.stay(360).drive(LAT, 120.285)
    n_live = len(tr.pings)
    tr.drive(*T1).stay(400).stay(60).drive(LAT + 0.01, 120.33).stay(900).drive(LAT, 120.275)
    n_dark = len(tr.pings)
    tr.drive(*S1, kmh=20).stay(360).drive(*T1).stay(460).drive(*D1).stay(3600, every=60)
    live1, dark, live2 = tr.pings[:n_live], as_backfill(tr.pings[n_live:n_dark]), tr.pings[n_dark:]
    cut = next(i for i, p in enumerate(live2) if p.ts >= live2[0].ts + 20 * 60_000)
    out = run(live1 + live2[:cut] + dark + live2[cut:])
    assert "route_deviation" not in out.types() and "suspected_dumping" not in out.types()
    trips = sorted(out.trips.values(), key=lambda t: t["load_ts"])
    assert [t["status"] for t in trips] == ["delivered", "delivered"]


def test_an_overdue_trip_whose_unload_a_late_batch_shows_within_the_deadline_is_resolved():
    """The batch comes 5 h later, after the deadline fired: the alert is sent again resolved,
    as it was first raised (not late, same permit)."""
    live1, dark, live2 = _unload_in_the_dark(
        lambda tr: tr.drive(*D1, loaded="empty").stay(6 * 3600, every=300, loaded="empty"),
        resumes=(LAT, 120.30),
        reload=False,
    )
    bg = parked().pings
    out = run(sorted(live1 + live2 + bg[:300], key=lambda p: p.ts) + dark + bg[300:])
    versions = [e for kind, e in out.events if kind == "alert" and e["type"] == "unmatched_source"]
    first, last = versions[0], versions[-1]
    assert (
        first["ended_ts"] is None and last["ended_ts"] == list(out.trips.values())[0]["unload_ts"]
    )
    assert last["evidence"]["resolved_by"]["unload_fence"] == "T1"
    assert (last["late"], last["permit"]) == (first["late"], first["permit"])
