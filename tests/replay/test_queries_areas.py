"""Who was here in a polygon, for some vehicles, within an access scope: against a brute-force
scan of every fix written (issue 12)."""

from __future__ import annotations

import math
import tempfile
from itertools import pairwise

import h3
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from replay.areas import MAX_VERTICES, polygon_cells
from replay.layout import SourceRange
from replay.queries import ArchiveQueryError, who_was_here
from replay.tables import CELL_RESOLUTION
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.replay.archive_world import M_PER_DEG_LAT, MIDNIGHT, WUXI, at, row
from tests.replay.test_queries import (
    START,
    WALK,
    WINDOW,
    accepted_in,
    rows_of,
    window_ms,
    write_in_batches,
)


def brute(rows, start, end, inside, closest, scope=None) -> list[dict]:
    """Who was here by scanning every accepted fix of the window (the definition): ``inside``
    and ``closest`` of a row; ``scope`` vehicle -> intervals (fixes outside are unseen, and time
    inside counts only between fixes of one interval)."""
    keep = accepted_in(rows, start, end)
    out = []
    for vehicle in sorted({r["vehicle"] for r in keep}):
        mine = [r for r in keep if r["vehicle"] == vehicle]
        if scope is not None:
            spans = scope.get(vehicle, [])
            piece = [
                next((k for k, (a, b) in enumerate(spans) if a <= r["ts"] <= b), None) for r in mine
            ]
            mine = [r for r, k in zip(mine, piece, strict=True) if k is not None]
            piece = [k for k in piece if k is not None]
        else:
            piece = [0] * len(mine)
        hit = [inside(r) for r in mine]
        if not any(hit):
            continue
        ins = [r for r, h in zip(mine, hit, strict=True) if h]
        loads = [r["loaded"] for r in ins if r["loaded"] is not None]
        lifts = [r["lift"] for r in ins if r["lift"] is not None]
        spent = sum(
            b["ts"] - a["ts"]
            for (a, ha, ka), (b, hb, kb) in pairwise(zip(mine, hit, piece, strict=True))
            if ha and hb and ka == kb
        )
        out.append(
            {
                "vehicle": vehicle,
                "closest_m": round(min(closest(r) for r in ins), 1),
                "inside_s": spent / 1000.0,
                "fixes": len(ins),
                "first": iso_ts(ins[0]["ts"]),
                "last": iso_ts(ins[-1]["ts"]),
                "loaded": any(s in ("half", "full") for s in loads) if loads else None,
                "lift": any(lifts) if lifts else None,
            }
        )
    out.sort(key=lambda h: (h["closest_m"], h["vehicle"]))
    return out


def geojson(shape: shapely.Polygon) -> dict:
    return shapely.geometry.mapping(shape) | {"coordinates": _rings(shape)}


def _rings(shape: shapely.Polygon) -> list:
    rings = [shape.exterior, *shape.interiors]
    return [[list(p) for p in r.coords] for r in rings]


def metres_of(r: dict) -> tuple[float, float]:
    """Where a row lies, in metres north and east of the Wuxi centre (``at`` inverted)."""
    north = (r["lat"] - WUXI[0]) * M_PER_DEG_LAT
    return north, (r["lng"] - WUXI[1]) * M_PER_DEG_LAT * math.cos(math.radians(WUXI[0]))


def star(centre: tuple[float, float], radii: list[float], hole_m: float | None) -> shapely.Polygon:
    """A star-shaped polygon (always simple) around ``centre`` (metres north, east)."""
    n = len(radii)
    ring = [
        at(
            centre[0] + r * math.cos(2 * math.pi * k / n),
            centre[1] + r * math.sin(2 * math.pi * k / n),
        )
        for k, r in enumerate(radii)
    ]
    shell = [(lng, lat) for lat, lng in ring]
    holes = []
    if hole_m is not None and hole_m < min(radii) / 2:
        corners = [(-hole_m, -hole_m), (-hole_m, hole_m), (hole_m, hole_m), (hole_m, -hole_m)]
        holes = [[(p[1], p[0]) for p in (at(centre[0] + n_, centre[1] + e) for n_, e in corners)]]
    return shapely.Polygon(shell, holes)


def strip(
    centre: tuple[float, float], length_m: float, width_m: float, bearing: float
) -> shapely.Polygon:
    """A thin rectangle: often no cell centre inside at all."""
    dn, de = math.cos(bearing), math.sin(bearing)
    corners = [
        (s * length_m / 2 * dn - w * width_m / 2 * de, s * length_m / 2 * de + w * width_m / 2 * dn)
        for s, w in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    return shapely.Polygon(
        [(lng, lat) for lat, lng in (at(centre[0] + n, centre[1] + e) for n, e in corners)]
    )


def cornered(rows: list[dict], pick: int, size: tuple[float, float]) -> shapely.Polygon:
    """A lng/lat box with a corner exactly on a fix: that fix lies on the boundary."""
    r = rows[pick % len(rows)]
    lng, lat = r["lng"], r["lat"]
    dlng, dlat = size[0] / 95_000.0, size[1] / 110_900.0
    return shapely.box(
        min(lng, lng + dlng), min(lat, lat + dlat), max(lng, lng + dlng), max(lat, lat + dlat)
    )


SHAPES = st.one_of(
    st.tuples(
        st.just("star"),
        st.lists(st.floats(30, 1500), min_size=3, max_size=12),
        st.one_of(st.none(), st.floats(5, 300)),
    ),
    st.tuples(
        st.just("strip"),
        st.integers(0, 1000),
        st.floats(50, 3000),
        st.floats(1, 40),
        st.floats(0, math.pi),
    ),
    st.tuples(
        st.just("corner"),
        st.integers(0, 1000),
        st.tuples(
            st.sampled_from([-400.0, -30.0, 30.0, 400.0]),
            st.sampled_from([-400.0, -30.0, 30.0, 400.0]),
        ),
    ),
)


def make_shape(spec, centre, rows, start, end) -> shapely.Polygon:
    rows = accepted_in(rows, start, end) or rows  # strips and corners on a fix it may find
    if spec[0] == "star":
        return star(centre, spec[1], spec[2])
    if spec[0] == "strip":  # through a fix, so that some strips hold one
        return strip(metres_of(rows[spec[1] % len(rows)]), *spec[2:])
    return cornered(rows, spec[1], spec[2])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    walks=st.lists(WALK, min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 120), max_size=3),
    offset=st.tuples(st.floats(-800, 800), st.floats(-800, 800)),
    spec=SHAPES,
    window=WINDOW,
)
def test_who_was_here_in_a_polygon_is_the_brute_force_scan(walks, cuts, offset, spec, window):
    rows = rows_of(walks)
    start, end = window_ms(window)
    shape = make_shape(spec, (walks[0][0] + offset[0], walks[0][1] + offset[1]), rows, start, end)
    with tempfile.TemporaryDirectory() as archive:
        write_in_batches(archive, rows, cuts)
        got = who_was_here(archive, None, None, None, start, end, polygon=geojson(shape))
    want = brute(
        rows, start, end, lambda r: shape.covers(shapely.Point(r["lng"], r["lat"])), lambda r: 0.0
    )
    event(f"{spec[0]}: vehicles found: {min(len(want), 2)}")
    assert got == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    walks=st.lists(WALK, min_size=2, max_size=4),
    radius=st.floats(300, 3000),
    window=WINDOW,
    chosen=st.one_of(st.none(), st.lists(st.integers(0, 3), min_size=1, max_size=3)),
    scoped=st.dictionaries(
        st.integers(0, 3),
        st.lists(st.tuples(st.integers(-10, 150), st.integers(0, 120)), min_size=1, max_size=3),
        min_size=1,
        max_size=3,
    ),
    use_scope=st.booleans(),
)
def test_vehicles_and_scope_are_the_brute_force_scan(
    walks, radius, window, chosen, scoped, use_scope
):
    rows = rows_of(walks)
    centre = at(walks[0][0], walks[0][1])
    start, end = window_ms(window)
    vehicles = None if chosen is None else sorted({f"V{v}" for v in chosen})
    scope = None
    if use_scope:
        scope = {
            f"V{v}": [(START + a * 60_000, START + (a + n) * 60_000) for a, n in spans]
            for v, spans in scoped.items()
        }
    with tempfile.TemporaryDirectory() as archive:
        write_in_batches(archive, rows, [])
        got = who_was_here(archive, *centre, radius, start, end, vehicles=vehicles, scope=scope)
    from geofence.metric import distance_m
    from replay.duck import clip

    keep = rows if vehicles is None else [r for r in rows if r["vehicle"] in vehicles]
    clipped = None if scope is None else {v: clip(s, start, end) for v, s in scope.items()}
    want = brute(
        keep,
        start,
        end,
        lambda r: distance_m(*centre, r["lat"], r["lng"]) <= radius,
        lambda r: distance_m(*centre, r["lat"], r["lng"]),
        clipped,
    )
    event(f"vehicles found: {min(len(want), 2)}")
    assert got == want


def test_a_fix_outside_the_scope_between_two_inside_ones_counts_no_time(tmp_path):
    """A district officer's scope of two alert windows: the time between them is not theirs."""
    rows = [row("V1", START + m * 60_000, at(0, 0), ingest=m) for m in range(0, 31, 10)]
    write_batch(tmp_path, SourceRange(0, len(rows) - 1), rows)
    scope = {"V1": [(START, START + 10 * 60_000), (START + 20 * 60_000, START + 30 * 60_000)]}
    (hit,) = who_was_here(tmp_path, *at(0, 0), 100, START, START + 3_600_000, scope=scope)
    assert (hit["inside_s"], hit["fixes"]) == (1200.0, 4)
    (whole,) = who_was_here(tmp_path, *at(0, 0), 100, START, START + 3_600_000)
    assert whole["inside_s"] == 1800.0
    only = who_was_here(
        tmp_path, *at(0, 0), 100, START, START + 3_600_000, scope={"V2": [(START, START + 1)]}
    )
    assert only == []
    neither = who_was_here(
        tmp_path, *at(0, 0), 100, START, START + 3_600_000, vehicles=["V2"], scope=scope
    )
    assert neither == []  # the filter and the scope both hold


def test_a_polygon_thinner_than_a_cell_is_covered():
    """No cell centre lies inside an 11 m strip: the cover comes from its sampled boundary."""
    shape = strip((0, 0), 3000, 11, 0.3)
    lat, lng = at(0, 0)
    assert not h3.polygon_to_cells(
        h3.LatLngPoly([(y, x) for x, y in shape.exterior.coords]), CELL_RESOLUTION
    )
    cover = set(polygon_cells(shape))
    rng = np.random.default_rng(7)
    for _ in range(2000):
        n, e = rng.uniform(-1500, 1500), rng.uniform(-5.5, 5.5)
        p_lat, p_lng = at(
            n * math.cos(0.3) - e * math.sin(0.3), n * math.sin(0.3) + e * math.cos(0.3)
        )
        if shape.covers(shapely.Point(p_lng, p_lat)):
            assert h3.str_to_int(h3.latlng_to_cell(p_lat, p_lng, CELL_RESOLUTION)) in cover
    del lat, lng


def square_m(half_m: float) -> dict:
    (s, w), (n, e) = at(-half_m, -half_m), at(half_m, half_m)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


BAD_POLYGONS = [
    ({"type": "Point", "coordinates": [120.31, 31.49]}, "type Polygon"),
    ("not a polygon", "type Polygon"),
    ({"type": "Polygon", "coordinates": []}, "list of rings"),
    (
        {"type": "Polygon", "coordinates": [[[120.31, 31.49], [120.32, 31.49], [120.31, 31.49]]]},
        "at least 4",
    ),
    (
        {
            "type": "Polygon",
            "coordinates": [[[31.49, 120.31], [31.5, 120.31], [31.5, 120.32], [31.49, 120.31]]],
        },
        "lng first",
    ),
    (
        {
            "type": "Polygon",
            "coordinates": [[[120.31, "31.49"], [120.32, 31.49], [120.32, 31.5], [120.31, 31.49]]],
        },
        "lng first",
    ),
    (
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [120.30, 31.49],
                    [120.32, 31.51],
                    [120.32, 31.49],
                    [120.30, 31.51],
                    [120.30, 31.49],
                ]
            ],
        },
        "not valid",
    ),
    (square_m(4000), "at most 50 km²"),  # 64 km²
    (
        {
            "type": "Polygon",
            "coordinates": [
                [[120.0, 31.49], [120.4, 31.49], [120.4, 31.4901], [120.0, 31.4901], [120.0, 31.49]]
            ],
        },
        "across",  # 0.4 km² but 38 km long
    ),
    ({"type": "Polygon", "coordinates": [[[120.31, 31.49]] * (MAX_VERTICES + 1)]}, "simplify"),
]


@pytest.mark.parametrize(("geometry", "hint"), BAD_POLYGONS)
def test_a_bad_polygon_is_refused_with_what_to_do(tmp_path, geometry, hint):
    with pytest.raises(ArchiveQueryError, match=hint):
        who_was_here(tmp_path, None, None, None, MIDNIGHT, MIDNIGHT + 1, polygon=geometry)


def test_a_district_sized_polygon_is_answered(tmp_path):
    """49 km² (a 7 km square) is inside the bound; its cover is a few hundred cells."""
    rows = [row("V1", START, at(3000, -3000), ingest=0), row("V2", START, at(3600, 0), ingest=1)]
    write_batch(tmp_path, SourceRange(0, 1), rows)
    hits = who_was_here(tmp_path, None, None, None, START, START + 60_000, polygon=square_m(3500))
    assert [h["vehicle"] for h in hits] == ["V1"]
