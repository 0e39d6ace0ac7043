"""FenceIndex against the slow oracle: exact ``covers`` (tests.geofence.exact) on every fence."""

from __future__ import annotations

import math

import h3
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geofence.h3grid import Lattice
from geofence.index import FenceIndex
from geofence.model import Fence, FenceKind
from tests.geofence.edge_probes import exact_pairs

M = 111_320.0
KINDS = list(FenceKind)


def shape(cx: float, cy: float, size_m: float, form: int, turn: float) -> Polygon | MultiPolygon:
    """A fence of ``size_m`` around (cx, cy): circle, rotated rectangle, star, holed or multi."""
    kx, ky = 1 / (M * math.cos(math.radians(cy))), 1 / M

    def ring(radii, n):
        a = turn + np.linspace(0, 2 * math.pi, n, endpoint=False)
        return np.column_stack([cx + radii * np.cos(a) * kx, cy + radii * np.sin(a) * ky])

    if form == 0:
        return Polygon(ring(np.full(16, size_m), 16))
    if form == 1:
        return shapely.affinity.rotate(
            box(cx - size_m * kx, cy - 0.5 * size_m * ky, cx + size_m * kx, cy + 0.5 * size_m * ky),
            turn,
            use_radians=True,
        )
    if form == 2:
        return Polygon(ring(size_m * (0.5 + 0.5 * (np.arange(14) % 2)), 14))
    if form == 3:
        return Polygon(ring(np.full(12, size_m), 12), [ring(np.full(8, size_m / 2), 8)[::-1]])
    left = Polygon(ring(np.full(10, size_m / 3), 10))
    return MultiPolygon([left, shapely.affinity.translate(left, size_m * kx, 0)])


fence_st = st.builds(
    lambda k, cx, cy, size, form, turn, kind: Fence(f"f{k}", kind, shape(cx, cy, size, form, turn)),
    st.integers(0, 10**6),
    st.floats(120.30, 120.32),
    st.floats(31.48, 31.50),
    st.one_of(st.floats(2.0, 40.0), st.floats(40.0, 600.0), st.floats(600.0, 3000.0)),
    st.integers(0, 4),
    st.floats(0, math.pi),
    st.sampled_from(KINDS),
)


def unique(fences: list[Fence]) -> list[Fence]:
    seen: dict[str, Fence] = {}
    for f in fences:
        seen.setdefault(f.id, f)
    return list(seen.values())


def probe_points(fences: list[Fence], seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Random points, every vertex, edge midpoints and points a hair inside/outside edges."""
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(120.295, 120.325, n)]
    ys = [rng.uniform(31.475, 31.505, n)]
    for f in fences:
        c = shapely.get_coordinates(f.area)
        mid = (c[:-1] + c[1:]) / 2
        nudge = rng.normal(0, 1e-9, mid.shape)
        xs += [c[:, 0], mid[:, 0], mid[:, 0] + nudge[:, 0]]
        ys += [c[:, 1], mid[:, 1], mid[:, 1] + nudge[:, 1]]
    return np.concatenate(ys), np.concatenate(xs)


def oracle(fences: list[Fence], lats, lngs, kinds=None) -> set[tuple[int, str]]:
    """Exact ``covers`` pairs, decided without shapely: the index hands points within 1e-9° of an
    edge to ``shapely.intersects_xy``, so that call cannot be the oracle there (issue 15)."""
    return exact_pairs([f for f in fences if kinds is None or f.kind in kinds], lats, lngs)


def index_pairs(idx: FenceIndex, lats, lngs, kinds=None) -> set[tuple[int, str]]:
    p, f = idx.match_many(lats, lngs, kinds=kinds)
    assert np.all(np.diff(p) >= 0), "pairs must be sorted by point"
    return set(zip(p.tolist(), idx.ids[f].tolist(), strict=True))


SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(st.lists(fence_st, min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_match_many_equals_shapely_covers(fences, seed):
    fences = unique(fences)
    idx = FenceIndex(fences)
    lats, lngs = probe_points(fences, seed)
    assert index_pairs(idx, lats, lngs) == oracle(fences, lats, lngs)


@SLOW
@given(st.lists(fence_st, min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_scalar_match_equals_shapely_covers(fences, seed):
    fences = unique(fences)
    idx = FenceIndex(fences)
    lats, lngs = probe_points(fences, seed, n=60)
    for k, (lat, lng) in enumerate(zip(lats, lngs, strict=True)):
        want = sorted(fid for p, fid in oracle(fences, lats[k : k + 1], lngs[k : k + 1]))
        assert idx.match(lat, lng) == want


@SLOW
@given(
    st.lists(fence_st, min_size=2, max_size=8),
    st.lists(st.tuples(st.sampled_from(["add", "remove", "replace"]), fence_st), max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_edits_keep_the_index_exact(start, edits, seed):
    start = unique(start)
    idx = FenceIndex(start[: len(start) // 2])
    live = {f.id: f for f in start[: len(start) // 2]}
    for f in start[len(start) // 2 :]:
        idx.add(f)
        live[f.id] = f
    for op, f in edits:
        if op == "add" and f.id not in live:
            idx.add(f)
            live[f.id] = f
        elif op == "remove" and live:
            # Not hash(f.id): str hashes are salted per process, so the run would not repeat.
            victim = sorted(live)[int(f.id[1:]) % len(live)]
            idx.remove(victim)
            del live[victim]
        elif op == "replace" and live:
            target = sorted(live)[len(f.id) % len(live)]
            moved = Fence(target, f.kind, f.area)
            idx.replace(moved)
            live[target] = moved
    fences = list(live.values())
    lats, lngs = probe_points(fences + start, seed)
    want = oracle(fences, lats, lngs)
    assert index_pairs(idx, lats, lngs) == want
    assert len(idx) == len(live)
    for k in range(0, lats.shape[0], 7):  # the scalar path sees the edits too
        assert idx.match(lats[k], lngs[k]) == sorted(fid for p, fid in want if p == k)


@SLOW
@given(st.lists(fence_st, min_size=1, max_size=10), st.sets(st.sampled_from(KINDS), max_size=3))
def test_kind_filter(fences, kinds):
    fences = unique(fences)
    idx = FenceIndex(fences)
    lats, lngs = probe_points(fences, 7)
    assert index_pairs(idx, lats, lngs, kinds) == oracle(fences, lats, lngs, kinds)


def test_fence_of_20_km_with_hole_and_far_points():
    big = Fence("zone", FenceKind.RESTRICTED, shape(120.31, 31.49, 10_000, 3, 0.3))
    small = Fence("site", FenceKind.SITE, shape(120.31, 31.49, 30, 0, 0))  # inside the hole
    idx = FenceIndex([big, small])
    rng = np.random.default_rng(3)
    lats, lngs = rng.uniform(31.38, 31.60, 50_000), rng.uniform(120.18, 120.44, 50_000)
    assert index_pairs(idx, lats, lngs) == oracle([big, small], lats, lngs)
    cells = idx.cells("zone")
    assert cells["resolution"] == idx.resolution
    # Interior cells are compacted: far fewer than the ~1M resolution-12 cells of the area.
    assert 0 < len(cells["interior"]) < 50_000
    assert {h3.get_resolution(c) for c in cells["interior"]} != {idx.resolution}


def test_fence_smaller_than_a_cell():
    tiny = Fence("tiny", FenceKind.PRODUCER, Point(120.3, 31.5).buffer(2e-5, 8))  # ~2 m
    idx = FenceIndex([tiny])
    assert idx.match(31.5, 120.3) == ["tiny"]
    assert idx.match(31.5, 120.30003) == []
    cells = idx.cells("tiny")
    assert cells["interior"] == [] and 1 <= len(cells["boundary"]) <= 7


def test_interior_cells_lie_inside_and_the_edge_runs_through_boundary_cells():
    fence = Fence("t", FenceKind.TERMINAL, shape(120.31, 31.49, 400, 2, 0.1))
    cells = FenceIndex([fence]).cells("t")
    for c in h3.uncompact_cells(cells["interior"], 12):
        assert fence.area.contains(Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]))
    edge = fence.area.boundary
    on_edge = [edge.interpolate(t, normalized=True) for t in np.linspace(0, 1, 2000)]
    assert {h3.latlng_to_cell(p.y, p.x, 12) for p in on_edge} <= set(cells["boundary"])
    for c in cells["boundary"]:  # conservative, but not wasteful: within two cell radii
        hexagon = Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
        assert edge.distance(hexagon) < 2.5e-4


def test_fence_across_an_icosahedron_face_edge():
    C = Lattice.for_resolution(12).C
    mid = (C[0] + C[1]) / np.linalg.norm(C[0] + C[1])  # on the edge shared by faces 0 and 1
    lat, lng = math.degrees(math.asin(mid[2])), math.degrees(math.atan2(mid[1], mid[0]))
    fence = Fence("edge", FenceKind.SITE, shape(lng, lat, 300, 2, 0.2))
    idx = FenceIndex([fence])
    rng = np.random.default_rng(5)
    lats, lngs = lat + rng.uniform(-0.005, 0.005, 20_000), lng + rng.uniform(-0.005, 0.005, 20_000)
    assert index_pairs(idx, lats, lngs) == oracle([fence], lats, lngs)


def test_bad_points_match_nothing():
    idx = FenceIndex([Fence("wuxi", FenceKind.RESTRICTED, box(119.5, 31.0, 121.0, 32.0))])
    lats = np.array([np.nan, 95.0, 31.5, np.inf, 31.5, -31.5])
    lngs = np.array([120.0, 120.0, 480.0, 120.0, -np.inf, -59.7])
    p, _ = idx.match_many(lats, lngs)
    assert p.tolist() == []
    assert idx.match(31.5, 120.3) == ["wuxi"]


def test_a_province_sized_zone_is_cheap_and_a_continent_is_refused():
    zone = Fence("prov", FenceKind.RESTRICTED, shape(120.3, 31.5, 150_000, 2, 0.0))
    idx = FenceIndex([zone])
    assert idx.nbytes() < 100e6  # memory follows the perimeter, not the 50,000 km² area
    rng = np.random.default_rng(9)
    lats, lngs = rng.uniform(29.9, 33.1, 20_000), rng.uniform(118.5, 122.1, 20_000)
    assert index_pairs(idx, lats, lngs) == oracle([zone], lats, lngs)
    with pytest.raises(ValueError, match="split it"):
        FenceIndex([Fence("asia", FenceKind.RESTRICTED, box(70, 10, 140, 50))])


def test_lattice_cells_are_h3_cells():
    rng = np.random.default_rng(11)
    lats = np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))
    lngs = rng.uniform(-180, 180, 3000)
    for res in (9, 12):
        lattice = Lattice.for_resolution(res)
        names = lattice.to_h3(lattice.keys(lats, lngs))
        assert names == [h3.latlng_to_cell(a, b, res) for a, b in zip(lats, lngs, strict=True)]


def test_invalid_and_duplicate_fences_are_refused():
    bowtie = Polygon([(120.0, 31.0), (120.1, 31.1), (120.1, 31.0), (120.0, 31.1)])
    with pytest.raises(ValueError, match="bow"):
        FenceIndex([Fence("bow", FenceKind.SITE, bowtie)])
    good = Fence("a", FenceKind.SITE, box(120.0, 31.0, 120.1, 31.1))
    with pytest.raises(KeyError):
        FenceIndex([good, good])
    idx = FenceIndex([good])
    with pytest.raises(KeyError):
        idx.add(good)
    with pytest.raises(KeyError):
        idx.remove("missing")


def test_length_membership_and_ids_after_remove():
    fences = [
        Fence(f"f{k}", FenceKind.SITE, shape(120.31 + k * 0.01, 31.49, 100, 0, 0)) for k in range(3)
    ]
    idx = FenceIndex(fences)
    idx.remove("f1")
    assert len(idx) == 2 and "f1" not in idx and "f0" in idx
    assert idx.ids.tolist() == ["f0", None, "f2"]
    assert idx.match(31.49, 120.32) == []
    idx.add(fences[1])
    assert idx.match(31.49, 120.32) == ["f1"]
