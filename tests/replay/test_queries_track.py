"""The Track JSON: a truck's night as the map draws it, with its stop, alert, fence visits and
trip overlaid, the state of every point, and pages that add up to the whole (issue 12)."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from replay.layout import SourceRange
from replay.queries import track
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.replay.archive_world import MIDNIGHT, at, row

START = MIDNIGHT - 3_600_000  # 23:00 Beijing time
END = START + 100 * 60_000  # 00:40 the next day


def minute(m: float) -> int:
    return START + int(m * 60_000)


def load_at(m: int) -> str:
    return "full" if 10 <= m <= 60 else "empty"


def night_pings() -> list[dict]:
    """V1: a fix a minute from 23:00 to 00:40 driving east 200 m a minute, standing still from
    minute 30 to 35, loaded from minute 10 to 60; V2 elsewhere at the same times."""
    rows = []
    for m in range(101):
        east = 200 * min(m, 30) + 200 * max(0, m - 35)
        rows.append(row("V1", minute(m), at(0, east), ingest=2 * m, loaded=load_at(m)))
        rows.append(row("V2", minute(m), at(3000, 0), ingest=2 * m + 1, loaded="full"))
    return rows


def dumping(ended: bool, vehicle: str = "V1") -> dict:
    lat, lng = at(0, 6000)
    return {
        "id": f"A-dump-{vehicle}",
        "type": "suspected_dumping",
        "vehicle": vehicle,
        "district": "梁溪",
        "severity": "critical",
        "ts": iso_ts(minute(30)),
        "ended_ts": iso_ts(minute(35)) if ended else None,
        "lat": lat,
        "lng": lng,
        "evidence": {"pings": []},
    }


def trip(status: str) -> dict:
    t = {"id": "T-1", "vehicle": "V1", "kind": "muck", "status": status}
    t["load_ts"] = iso_ts(minute(10))
    if status != "open":
        t["unload_ts"] = iso_ts(minute(70))
    return t


def night_events() -> tuple[list, list]:
    """Events of two batches: the open versions first, the final ones later."""
    lat, lng = at(0, 6000)
    first = [
        ("alert", dumping(ended=False)),
        ("alert", dumping(ended=False, vehicle="V2")),
        ("trip", trip("open")),
        (
            "fence",
            {
                "vehicle": "V1",
                "fence": "site-1",
                "detect": "enter",
                "kind": "site",
                "ts": iso_ts(minute(5)),
                "lat": lat,
                "lng": lng,
                "late": False,
            },
        ),
        (
            "fence",
            {
                "vehicle": "V1",
                "fence": "site-1",
                "detect": "exit",
                "kind": "site",
                "ts": iso_ts(minute(12)),
                "lat": lat,
                "lng": lng,
                "late": False,
            },
        ),
    ]
    second = [
        ("alert", dumping(ended=True)),
        ("trip", trip("delivered")),
        (
            "stop",
            {
                "vehicle": "V1",
                "ts": iso_ts(minute(30)),
                "ended_ts": iso_ts(minute(35)),
                "lat": lat,
                "lng": lng,
                "duration_s": 300.0,
                "loaded": True,
                "at_known_place": False,
            },
        ),
        (
            "fence",
            {
                "vehicle": "V1",
                "fence": "term-1",
                "detect": "enter",
                "kind": "terminal",
                "ts": iso_ts(minute(70)),
                "lat": lat,
                "lng": lng,
                "late": False,
            },
        ),
    ]
    return first, second


def write_night(archive, redelivered_open: bool = False) -> None:
    pings = night_pings()
    first, second = night_events()
    write_batch(archive, SourceRange(0, 99), pings[:100], first)
    write_batch(archive, SourceRange(100, len(pings) - 1), pings[100:], second)
    if redelivered_open:  # a replay re-emits the open versions after the final ones
        write_batch(archive, SourceRange(1000, 1000), [], [first[0], first[2]])


def overlays(page: dict) -> list[tuple]:
    return [
        (
            f["properties"]["kind"],
            f["properties"]["ts"],
            f["geometry"]["coordinates"] if f["geometry"] else None,
            tuple(sorted(f["properties"].items())),
        )
        for f in page["features"][1:]
    ]


def test_the_night_in_one_page(tmp_path):
    write_night(tmp_path)
    page = track(tmp_path, "V1", START, END)
    assert (page["type"], page["vehicle"], page["next"]) == ("FeatureCollection", "V1", None)
    assert (page["from"], page["to"]) == ("2025-06-02T23:00:00+08:00", "2025-06-03T00:40:00+08:00")
    line = page["features"][0]["properties"]
    assert len(line["datetimes"]) == 101
    assert line["state"] == (
        ["empty"] * 10 + ["loaded"] * 20 + ["violating"] * 6 + ["loaded"] * 25 + ["empty"] * 40
    )
    # 200 m a minute is 12 km/h, implied (no speed reported); standing still is 0
    assert line["speed_kmh"][0] is None
    assert line["speed_kmh"][1:4] == [pytest.approx(12.0, abs=0.1)] * 3
    assert line["speed_kmh"][31:36] == [0.0] * 5
    kinds = [(f["properties"]["kind"], f["properties"]["ts"][11:16]) for f in page["features"][1:]]
    assert sorted(kinds) == [
        ("alert", "23:30"),
        ("fence_event", "00:10"),
        ("fence_event", "23:05"),
        ("fence_event", "23:12"),
        ("stop", "23:30"),
    ]
    alert = next(f for f in page["features"] if f["properties"]["kind"] == "alert")
    assert alert["properties"] == {
        "kind": "alert",
        "id": "A-dump-V1",
        "type": "suspected_dumping",
        "severity": "critical",
        "ts": "2025-06-02T23:30:00+08:00",
        "district": "梁溪",
    }
    assert alert["geometry"] == {"type": "Point", "coordinates": [at(0, 6000)[1], at(0, 6000)[0]]}
    stop = next(f for f in page["features"] if f["properties"]["kind"] == "stop")
    assert stop["properties"] == {
        "kind": "stop",
        "ts": "2025-06-02T23:30:00+08:00",
        "ended_ts": "2025-06-02T23:35:00+08:00",
        "duration_s": 300.0,
        "loaded": True,
        "at_known_place": False,
    }
    fence = next(f for f in page["features"] if f["properties"]["kind"] == "fence_event")
    assert fence["properties"] == {
        "kind": "fence_event",
        "fence": "site-1",
        "detect": "enter",
        "fence_kind": "site",
        "ts": "2025-06-02T23:05:00+08:00",
    }
    assert page["trips"] == [trip("delivered")]


def test_a_redelivered_open_version_does_not_reopen_the_alert_or_the_trip(tmp_path):
    write_night(tmp_path, redelivered_open=True)
    page = track(tmp_path, "V1", START, END)
    assert page["features"][0]["properties"]["state"].count("violating") == 6
    assert page["trips"] == [trip("delivered")]


def test_an_alert_that_started_before_the_window_colours_the_points_it_covers(tmp_path):
    write_night(tmp_path)
    page = track(tmp_path, "V1", minute(33), minute(40))
    assert page["features"][0]["properties"]["state"] == ["violating"] * 3 + ["loaded"] * 5
    assert [f["properties"]["kind"] for f in page["features"][1:]] == []  # dated before


def test_an_alert_with_no_end_colours_only_its_own_point(tmp_path):
    pings = night_pings()[:100]
    write_batch(tmp_path, SourceRange(0, 99), pings, [("alert", dumping(ended=False))])
    states = track(tmp_path, "V1", START, END)["features"][0]["properties"]["state"]
    assert [m for m, s in enumerate(states) if s == "violating"] == [30]


def test_an_open_trip_is_on_every_page_after_it_started(tmp_path):
    pings = night_pings()
    write_batch(tmp_path, SourceRange(0, len(pings) - 1), pings, [("trip", trip("open"))])
    first = track(tmp_path, "V1", START, END, limit=5)  # 23:00-23:04: before the load
    assert first["trips"] == []
    later = track(tmp_path, "V1", START, END, limit=5, cursor=first["next"])
    assert later["trips"] == []  # 23:05-23:09
    after = track(tmp_path, "V1", minute(50), END, limit=5)
    assert after["trips"] == [trip("open")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limit=st.integers(1, 40),
    window=st.tuples(st.integers(-10, 100), st.integers(0, 120)),
    ties=st.booleans(),
)
# the second of two fixes at 23:30 alone on the last page, its span empty: still violating
@example(limit=1, window=(0, 30), ties=True)
def test_pages_add_up_to_the_one_page(limit, window, ties):
    """Points, speeds, states, and each overlay once, whatever the page size (cut anywhere,
    even between two fixes of the same time) and the window."""
    start, end = minute(window[0]), minute(window[0] + window[1])
    pings = night_pings()
    if ties:  # a second fix at the very time of each stop/alert/fence event
        pings += [row("V1", minute(m), at(0, 999), ingest=500 + m) for m in (5, 12, 30, 70)]
    first, second = night_events()
    with tempfile.TemporaryDirectory() as archive:
        write_batch(archive, SourceRange(0, len(pings) - 1), pings, first + second)
        whole = track(archive, "V1", start, end, limit=10_000)
        pages, cursor = [], None
        while True:
            pages.append(track(archive, "V1", start, end, limit=limit, cursor=cursor))
            cursor = pages[-1]["next"]
            if cursor is None:
                break
    line = whole["features"][0]["properties"]
    for key in ("datetimes", "loaded", "lift", "speed_kmh", "state"):
        assert [v for p in pages for v in p["features"][0]["properties"][key]] == line[key], key
    assert sorted(o for p in pages for o in overlays(p)) == sorted(overlays(whole))
    trips = {t["id"] for p in pages for t in p["trips"]}
    assert trips == {t["id"] for t in whole["trips"]}


def test_within_keeps_only_the_intervals(tmp_path):
    """An access scope (issue 12): points and overlays inside the intervals only, the window
    clipped to them."""
    write_night(tmp_path)
    page = track(
        tmp_path, "V1", START, END, within=[(minute(28), minute(31)), (minute(69), minute(71))]
    )
    line = page["features"][0]["properties"]
    assert [t[11:16] for t in line["datetimes"]] == [
        "23:28",
        "23:29",
        "23:30",
        "23:31",
        "00:09",
        "00:10",
        "00:11",
    ]
    assert (page["from"], page["to"]) == (iso_ts(minute(28)), iso_ts(minute(71)))
    kinds = sorted(
        (f["properties"]["kind"], f["properties"]["ts"][11:16]) for f in page["features"][1:]
    )
    # the stop (23:30-23:35) runs past 23:31: its end is beyond what the scope shows (review R1)
    assert kinds == [("alert", "23:30"), ("fence_event", "00:10")]
    nothing = track(tmp_path, "V1", START, END, within=[(END + 1, END + 60_000)])
    assert nothing["features"][0]["geometry"]["coordinates"] == [] and nothing["trips"] == []
    assert len(nothing["features"]) == 1


def test_within_shows_a_trip_only_when_it_lies_wholly_inside(tmp_path):
    """Review R1: a trip payload says where and when the truck loaded and unloaded, so a caller
    who may see only an alert's window (minutes 28-31) does not get a trip running from 10 to
    70 (it would give the loading place and time, and the terminal, beyond the window); one
    whose scope holds the whole trip does."""
    write_night(tmp_path)
    part = track(tmp_path, "V1", START, END, within=[(minute(28), minute(31))])
    assert part["features"][0]["properties"]["datetimes"] and part["trips"] == []
    whole = track(tmp_path, "V1", START, END, within=[(minute(5), minute(75))])
    assert [t["id"] for t in whole["trips"]] == ["T-1"]


def test_districts_keep_only_their_alerts(tmp_path):
    """A caller of another district (issue 12): the 梁溪 alert is neither drawn nor colours."""
    write_night(tmp_path)
    theirs = track(tmp_path, "V1", START, END, districts={"锡山"})
    kinds = {f["properties"]["kind"] for f in theirs["features"][1:]}
    assert kinds == {"stop", "fence_event"}
    assert "violating" not in theirs["features"][0]["properties"]["state"]
    ours = track(tmp_path, "V1", START, END, districts={"梁溪"})
    assert ours["features"][0]["properties"]["state"].count("violating") == 6


@pytest.mark.parametrize(
    ("status", "loaded_minutes"),
    [
        ("delivered", (10, 70)),  # loaded 23:10, unloaded 00:10
        ("open", (10, 100)),  # still carrying at the end of the window
    ],
)
def test_a_truck_without_a_load_sensor_is_loaded_from_loading_to_unloading(
    tmp_path, status, loaded_minutes
):
    """Many muck trucks report no load at all: the map colours them by their trip."""
    pings = [
        row("V1", minute(m), at(0, 100 * m), ingest=m, loaded="empty" if m == 40 else None)
        for m in range(101)
    ]
    write_batch(tmp_path, SourceRange(0, 100), pings, [("trip", trip(status))])
    states = track(tmp_path, "V1", START, END)["features"][0]["properties"]["state"]
    lo, hi = loaded_minutes
    want = ["loaded" if lo <= m <= hi else "empty" for m in range(101)]
    want[40] = "empty"  # a reading wins over the trip
    assert states == want
