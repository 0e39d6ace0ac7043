"""Geofence matching benchmark (issue 2): our H3 index against shapely STRtree, same data, one run.

Run ``python -m bench.geofence --fences 100000`` (or ``landun fences bench --fences 100000``);
``--json`` prints one JSON object. The process is pinned to one core unless ``--no-pin``.
Timings are medians of ``--repeat`` runs; the three methods must return identical pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import shapely

from bench import fenceset
from geofence.index import FenceIndex


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _strtree_pairs(tree, lats, lngs):
    pts, fence = tree.query(shapely.points(lngs, lats), predicate="intersects")
    order = np.lexsort((fence, pts))
    return pts[order], fence[order]


def _scalar_pairs(idx: FenceIndex, lats, lngs):
    pos = {fid: k for k, fid in enumerate(idx.ids)}
    p, f = [], []
    for k, (a, b) in enumerate(zip(lats.tolist(), lngs.tolist(), strict=True)):
        for fid in idx.match(a, b):
            p.append(k)
            f.append(pos[fid])
    p, f = np.array(p, dtype=np.int64), np.array(f, dtype=np.int64)
    order = np.lexsort((f, p))  # match() sorts by id, match_many by position
    return p[order], f[order]


def _scalar_loop(idx: FenceIndex, lats, lngs) -> None:
    match = idx.match
    for a, b in zip(lats.tolist(), lngs.tolist(), strict=True):
        match(a, b)


def _edit_ms(idx: FenceIndex, fence_list, repeat: int = 20) -> tuple[float, float]:
    """Median ms to add one small fence, and to replace one fence (both grown and restored)."""
    extra = fenceset.fences(repeat + 100, seed=99)[100:]
    adds = []
    for k, f in enumerate(extra):
        f2 = type(f)(f"bench-add-{k}", f.kind, f.area)
        t0 = time.perf_counter()
        idx.add(f2)
        adds.append(time.perf_counter() - t0)
        idx.remove(f2.id)
    reps = []
    for f in fence_list[100 : 100 + repeat]:
        moved = type(f)(f.id, f.kind, shapely.affinity.translate(f.area, 0.0005, 0.0003))
        t0 = time.perf_counter()
        idx.replace(moved)
        reps.append(time.perf_counter() - t0)
        idx.replace(f)
    return statistics.median(adds) * 1e3, statistics.median(reps) * 1e3


def run(n_fences: int, n_points: int, repeat: int, scalar_points: int, resolution: int) -> dict:
    fence_list = fenceset.fences(n_fences)
    lats, lngs = fenceset.pings(fence_list, n_points)
    FenceIndex(fenceset.fences(120, seed=5), resolution=resolution)  # compile/load kernels
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    idx = FenceIndex(fence_list, resolution=resolution)
    build_s = time.perf_counter() - t0
    rss_delta = _rss_mb() - rss0
    ours = idx.match_many(lats, lngs)
    t_batch = _median_time(lambda: idx.match_many(lats, lngs), repeat)

    tree = shapely.STRtree([f.area for f in fence_list])
    tree.query(shapely.points(lngs[:10], lats[:10]), predicate="intersects")  # build the tree
    ref = _strtree_pairs(tree, lats, lngs)
    t_tree = _median_time(lambda: _strtree_pairs(tree, lats, lngs), repeat)

    m = min(scalar_points, n_points)
    scalar = _scalar_pairs(idx, lats[:m], lngs[:m])
    t_scalar = _median_time(lambda: _scalar_loop(idx, lats[:m], lngs[:m]), repeat)
    head = ours[0] < m
    identical = bool(
        np.array_equal(ours[0], ref[0])
        and np.array_equal(ours[1], ref[1])
        and np.array_equal(scalar[0], ours[0][head])
        and np.array_equal(scalar[1], ours[1][head])
    )
    add_ms, replace_ms = _edit_ms(idx, fence_list)
    inside = np.unique(ours[0]).shape[0] / n_points
    return {
        "fences": n_fences,
        "points": n_points,
        "ours_batch_pps": round(n_points / t_batch),
        "ours_scalar_pps": round(m / t_scalar),
        "strtree_pps": round(n_points / t_tree),
        "ratio_batch_vs_strtree": round(t_tree / t_batch, 2),
        "build_s": round(build_s, 2),
        "index_mb": round(idx.nbytes() / 1e6, 1),
        "identical": identical,
        "scalar_us": round(t_scalar / m * 1e6, 3),
        "rss_growth_mb": round(rss_delta, 1),
        "add_ms": round(add_ms, 2),
        "replace_ms": round(replace_ms, 2),
        "pairs": int(ours[0].shape[0]),
        "inside_share": round(inside, 3),
        "resolution": resolution,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="landun fences bench", description=__doc__)
    ap.add_argument("--fences", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scalar-points", type=int, default=100_000)
    ap.add_argument("--resolution", type=int, default=12)
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result = run(args.fences, args.points, args.repeat, args.scalar_points, args.resolution)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
