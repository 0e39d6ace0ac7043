"""Track and who-was-here over the archive, against brute-force scans of the rows written
(issue 12)."""

from __future__ import annotations

import tempfile
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geofence.metric import distance_m
from replay.layout import DAY_MS, SourceRange
from replay.queries import MAX_PAGE, ArchiveQueryError, track, who_was_here
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.replay.archive_world import MIDNIGHT, at, row

VERDICTS = ["accepted"] * 5 + ["filter_duplicate", "filter_impossible_jump"]
LOADS = [None, "empty", "half", "full"]
START = MIDNIGHT - 3_600_000  # 23:00 Beijing time

# One fix of a walk: minutes since the vehicle's previous fix (0: the same time, on purpose),
# metres moved north and east, verdict, load, lift.
STEP = st.tuples(
    st.integers(0, 6),
    st.floats(-400, 400),
    st.floats(-400, 400),
    st.sampled_from(VERDICTS),
    st.sampled_from(LOADS),
    st.sampled_from([None, False, True]),
)
# A vehicle: where it starts (metres from the Wuxi centre), minutes after 23:00, and its walk.
WALK = st.tuples(
    st.floats(-1500, 1500),
    st.floats(-1500, 1500),
    st.integers(0, 60),
    st.lists(STEP, min_size=3, max_size=30),
)
# A window: minutes after 23:00 and its length, so about half cross midnight (minute 60).
WINDOW = st.tuples(st.integers(0, 100), st.integers(20, 150))


def rows_of(walks) -> list[dict]:
    """Rows of vehicles V0, V1, ... walking, interleaved as they would arrive (by time)."""
    fixes = []
    for v, (north, east, minute, steps) in enumerate(walks):
        for dt, dn, de, verdict, load, lift in steps:
            minute, north, east = minute + dt, north + dn, east + de
            fixes.append((minute, f"V{v}", (north, east), verdict, load, lift))
    fixes.sort(key=lambda f: f[0])
    return [
        row(v, START + m * 60_000, at(*pos), ingest=k, verdict=verdict, loaded=load, lift=lift)
        for k, (m, v, pos, verdict, load, lift) in enumerate(fixes)
    ]


def line(page: dict) -> dict:
    """The track feature of a Track JSON page (the first feature, ``kind`` track)."""
    assert page["features"][0]["properties"]["kind"] == "track"
    return page["features"][0]


def window_ms(window) -> tuple[int, int]:
    start = START + window[0] * 60_000
    return start, start + window[1] * 60_000


def write_in_batches(archive, rows: list[dict], cuts: list[int]) -> None:
    """Write ``rows`` as embedded batches cut at ``cuts`` (the archive is one file set per cut)."""
    bounds = sorted({0, len(rows), *(c for c in cuts if 0 < c < len(rows))})
    for lo, hi in pairwise(bounds):
        write_batch(archive, SourceRange(lo, hi - 1), rows[lo:hi])


def accepted_in(rows, start, end):
    keep = [r for r in rows if r["verdict"] == "accepted" and start <= r["ts"] <= end]
    return sorted(keep, key=lambda r: (r["vehicle"], r["ts"], r["ingest"]))


def brute_who(rows, lat, lng, radius, start, end) -> list[dict]:
    """Who was here by scanning every accepted fix of the window (the definition)."""
    keep = accepted_in(rows, start, end)
    if not keep:
        return []
    dist = distance_m(lat, lng, [r["lat"] for r in keep], [r["lng"] for r in keep])
    out = []
    for vehicle in sorted({r["vehicle"] for r in keep}):
        idx = [i for i, r in enumerate(keep) if r["vehicle"] == vehicle]
        inside = [i for i in idx if dist[i] <= radius]
        if not inside:
            continue
        spent = sum(
            keep[b]["ts"] - keep[a]["ts"]
            for a, b in pairwise(idx)
            if dist[a] <= radius and dist[b] <= radius
        )
        loads = [keep[i]["loaded"] for i in inside if keep[i]["loaded"] is not None]
        lifts = [keep[i]["lift"] for i in inside if keep[i]["lift"] is not None]
        out.append(
            {
                "vehicle": vehicle,
                "closest_m": round(float(min(dist[i] for i in inside)), 1),
                "inside_s": spent / 1000.0,
                "fixes": len(inside),
                "first": iso_ts(keep[inside[0]]["ts"]),
                "last": iso_ts(keep[inside[-1]]["ts"]),
                "loaded": any(s in ("half", "full") for s in loads) if loads else None,
                "lift": any(lifts) if lifts else None,
            }
        )
    out.sort(key=lambda h: (h["closest_m"], h["vehicle"]))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    walks=st.lists(WALK, min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 120), max_size=3),
    centre=st.tuples(st.floats(-800, 800), st.floats(-800, 800)),
    radius=st.floats(50, 2000),
    window=WINDOW,
)
def test_who_was_here_is_the_brute_force_scan(walks, cuts, centre, radius, window):
    rows = rows_of(walks)
    lat, lng = at(walks[0][0] + centre[0], walks[0][1] + centre[1])  # near where V0 starts
    start, end = window_ms(window)
    with tempfile.TemporaryDirectory() as archive:
        write_in_batches(archive, rows, cuts)
        got = who_was_here(archive, lat, lng, radius, start, end)
    want = brute_who(rows, lat, lng, radius, start, end)
    event(f"vehicles found: {min(len(want), 2)}")
    event(f"some time inside: {any(h['inside_s'] > 0 for h in want)}")
    assert got == want


@pytest.mark.parametrize(
    ("name", "track_m", "expect"),
    [
        # (minute, metres east of the centre) per fix; a 300 m circle at the centre
        ("parked inside", [(0, 0), (10, 10), (20, 0)], {"inside_s": 1200.0, "fixes": 3}),
        ("one fix inside counts no time", [(0, -900), (1, 0), (2, 900)], {"inside_s": 0.0}),
        (
            "a fix outside between two inside breaks the interval",
            [(0, 0), (5, 800), (10, 0)],
            {"inside_s": 0.0, "fixes": 2},
        ),
        ("never closer than 310 m", [(0, 310), (5, -310)], None),
        (
            "loaded and tipping only outside, between two fixes inside",
            [(0, 0, "empty", False), (5, 800, "full", True), (10, 0, "empty", False)],
            {"loaded": False, "lift": False},
        ),
        (
            "loaded with the tipper raised inside",
            [(0, 0, "full", False), (5, 100, "full", True), (10, 800, "empty", False)],
            {"loaded": True, "lift": True, "inside_s": 300.0},
        ),
        ("no sensors", [(0, 0), (5, 100)], {"loaded": None, "lift": None}),
    ],
)
def test_who_was_here_scenarios(tmp_path, name, track_m, expect):
    rows = [
        row("V1", START + m * 60_000, at(0, e), ingest=k, loaded=load, lift=lift)
        for k, (m, e, load, lift) in enumerate((*fix, None, None)[:4] for fix in track_m)
    ]
    write_batch(tmp_path, SourceRange(0, len(rows) - 1), rows)
    got = who_was_here(tmp_path, *at(0, 0), 300, START, START + 3_600_000)
    if expect is None:
        assert got == []
    else:
        assert {k: got[0][k] for k in expect} == expect


def test_rejected_pings_are_kept_but_never_answered(tmp_path):
    rows = [row("V1", START, at(0, 0), ingest=0, verdict="filter_duplicate")]
    write_batch(tmp_path, SourceRange(0, 0), rows)
    assert who_was_here(tmp_path, *at(0, 0), 300, START, START + 60_000) == []
    assert line(track(tmp_path, "V1", START, START + 60_000))["geometry"]["coordinates"] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    walks=st.lists(WALK, min_size=2, max_size=3),
    cuts=st.lists(st.integers(0, 90), max_size=3),
    limit=st.integers(1, 4),
    window=WINDOW,
)
def test_track_pages_give_every_point_once_in_time_order(walks, cuts, limit, window):
    rows = rows_of(walks)
    start, end = window_ms(window)
    pages, cursor = [], None
    with tempfile.TemporaryDirectory() as archive:
        write_in_batches(archive, rows, cuts)
        while True:
            page = track(archive, "V1", start, end, limit, cursor)
            pages.append(page)
            cursor = page["next"]
            if cursor is None:
                break
            assert len(pages) <= len(rows) + 1, "pagination does not end"
    want = [r for r in accepted_in(rows, start, end) if r["vehicle"] == "V1"]
    event(f"pages: {min(len(pages), 3)}")
    coords = [c for p in pages for c in line(p)["geometry"]["coordinates"]]
    times = [t for p in pages for t in line(p)["properties"]["datetimes"]]
    assert coords == [[r["lng"], r["lat"]] for r in want]
    assert times == [iso_ts(r["ts"]) for r in want]
    assert all(len(line(p)["geometry"]["coordinates"]) <= limit for p in pages)
    assert all(len(line(p)["geometry"]["coordinates"]) == limit for p in pages[:-1])
    assert len(pages) == 1 or line(pages[-1])["geometry"]["coordinates"], "an empty last page"


def test_track_is_a_line_with_a_time_per_point(tmp_path):
    rows = [
        row("V1", START + k * 10_000, at(0, 100 * k), ingest=k, loaded="full") for k in range(3)
    ]
    write_batch(tmp_path, SourceRange(0, 2), rows)
    page = track(tmp_path, "V1", iso_ts(START), iso_ts(START + 3_600_000))
    feature = line(page)
    assert page["type"] == "FeatureCollection" and page["next"] is None
    assert feature["geometry"]["type"] == "LineString"
    assert feature["properties"]["datetimes"][0] == "2025-06-02T23:00:00+08:00"
    assert feature["properties"]["loaded"] == ["full"] * 3


BAD_WINDOWS = [
    ("2025-06-02T20:00:00", "2025-06-03T06:00:00+08:00", "offset"),  # local time
    ("yesterday", MIDNIGHT, "ISO 8601"),
    (MIDNIGHT, MIDNIGHT - 1, "swap"),
    (MIDNIGHT, MIDNIGHT + 32 * DAY_MS, "at most a month"),
    (1.5, MIDNIGHT, "epoch milliseconds"),
]


@pytest.mark.parametrize(("start", "end", "hint"), BAD_WINDOWS)
def test_a_bad_window_is_refused_with_what_to_do(tmp_path, start, end, hint):
    for query in (
        lambda: track(tmp_path, "V1", start, end),
        lambda: who_was_here(tmp_path, 31.49, 120.31, 300, start, end),
    ):
        with pytest.raises(ArchiveQueryError, match=hint):
            query()


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"limit": 0}, "from 1 to"),
        ({"limit": MAX_PAGE + 1}, "cursor"),
        ({"limit": True}, "integer"),
        ({"cursor": "not-a-cursor"}, "without a cursor"),
        ({"cursor": "1:2:3"}, "without a cursor"),
        # crafted by hand (review R1): a time outside the window, a number beyond int64; each
        # crashed (date overflow, DuckDB's integer range) or read every day since 1970
        ({"cursor": "-99999999999999:0:0:0"}, "without a cursor"),
        ({"cursor": "0:0:0:0"}, "without a cursor"),
        ({"cursor": f"{MIDNIGHT + 2}:-1:0:0"}, "without a cursor"),
        ({"cursor": f"{MIDNIGHT}:-1:0:{2**80}"}, "without a cursor"),
    ],
)
def test_a_bad_page_is_refused(tmp_path, kwargs, hint):
    with pytest.raises(ArchiveQueryError, match=hint):
        track(tmp_path, "V1", MIDNIGHT, MIDNIGHT + 1, **kwargs)


@pytest.mark.parametrize(
    ("lat", "lng", "radius", "hint"),
    [
        (31.49, 120.31, 0, "more than 0"),
        (31.49, 120.31, 50_000, "polygon"),
        (120.31, 31.49, 300, "lat first"),
        ("north", 120.31, 300, "numbers"),
        (31.49, 120.31, float("nan"), "more than 0"),
    ],
)
def test_a_bad_circle_is_refused(tmp_path, lat, lng, radius, hint):
    with pytest.raises(ArchiveQueryError, match=hint):
        who_was_here(tmp_path, lat, lng, radius, MIDNIGHT, MIDNIGHT + 1)


def test_a_missing_archive_says_how_to_name_one(tmp_path):
    with pytest.raises(ArchiveQueryError, match="LANDUN_ARCHIVE_DIR"):
        track(tmp_path / "nowhere", "V1", MIDNIGHT, MIDNIGHT + 1)


def test_an_empty_window_of_an_existing_archive_is_empty(tmp_path):
    assert who_was_here(tmp_path, 31.49, 120.31, 300, MIDNIGHT, MIDNIGHT + 1) == []
    page = track(tmp_path, "V1", MIDNIGHT, MIDNIGHT + 1)
    assert line(page)["geometry"]["coordinates"] == [] and page["next"] is None


def test_the_disk_covers_the_circle():
    """Every point on the circle's rim (and the centre) lies in a cell of the disk."""
    import h3

    from replay.queries import disk_cells
    from replay.tables import CELL_RESOLUTION

    for radius in (50, 500, 2000, 5000):
        cells = set(disk_cells(31.49, 120.31, radius))
        for bearing in np.linspace(0, 2 * np.pi, 720, endpoint=False):
            lat, lng = at(radius * np.cos(bearing), radius * np.sin(bearing))
            cell = h3.str_to_int(h3.latlng_to_cell(lat, lng, CELL_RESOLUTION))
            assert cell in cells, (radius, bearing)
