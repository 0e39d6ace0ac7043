"""Trace archive benchmark, first cut (issue 12): write rate, bytes per ping, query times.

Run ``python -m bench.replay --vehicles 500 --hours 8``; ``--json`` prints one JSON object.
Pings are random walks around Wuxi, one every 30 s per vehicle, written as embedded batches of
``--batch`` pings (the files a live archive holds before compaction). Query times are medians
over ``--queries`` random vehicles / centres, after one warm-up.

Not yet here (issue 12): the 100-million-ping archive, compaction, the PostgreSQL + PostGIS
comparison in the same run, the 7-day who-was-here and the replay-to-map rate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import orjson

from replay.layout import SourceRange
from replay.queries import track, who_was_here
from replay.rows import ping_row
from replay.writer import write_batch
from stream.ping import Ping

T0 = 1748869200000  # 2025-06-02T21:00:00+08:00
STEP_MS = 30_000


def pings(vehicles: int, hours: float, seed: int) -> list[dict]:
    """Archive rows of ``vehicles`` random walks, in arrival (time) order."""
    rng = np.random.default_rng(seed)
    lat = 31.49 + rng.normal(0, 0.05, vehicles)
    lng = 120.31 + rng.normal(0, 0.05, vehicles)
    rows, k = [], 0
    for i in range(int(hours * 3_600_000 / STEP_MS)):
        lat = lat + rng.normal(0, 0.0003, vehicles)
        lng = lng + rng.normal(0, 0.0003, vehicles)
        for v in range(vehicles):
            p = Ping(f"V{v:05d}", T0 + i * STEP_MS + v, round(float(lat[v]), 6),
                     round(float(lng[v]), 6), speed_kmh=30.0, heading=90.0, loaded="full",
                     lift=False, source="jt808", seq=i)  # fmt: skip
            raw = orjson.dumps(p.to_dict()).decode()
            rows.append(ping_row(p, "accepted", raw=raw, ingest=k))
            k += 1
    return rows


def _median_ms(fn, args_list) -> float:
    fn(*args_list[0])  # warm-up: file metadata into the page cache
    times = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


def run(vehicles: int, hours: float, batch: int, queries: int, seed: int) -> dict:
    rows = pings(vehicles, hours, seed)
    end = T0 + int(hours * 3_600_000)
    rng = np.random.default_rng(seed + 1)
    with tempfile.TemporaryDirectory() as archive:
        t = time.perf_counter()
        for lo in range(0, len(rows), batch):
            part = rows[lo : lo + batch]
            write_batch(archive, SourceRange(lo, lo + len(part) - 1), part)
        write_s = time.perf_counter() - t
        sizes = {
            table: sum(
                os.path.getsize(os.path.join(root, n))
                for root, _, names in os.walk(os.path.join(archive, table))
                for n in names
            )
            for table in ("pings", "cells")
        }
        tracks = [
            (archive, f"V{int(v):05d}", T0, end, 10_000) for v in rng.integers(0, vehicles, queries)
        ]
        centres = [
            (archive, 31.49 + a, 120.31 + b, 500.0, T0, end)
            for a, b in rng.normal(0, 0.03, (queries, 2))
        ]
        return {
            "pings": len(rows),
            "batch": batch,
            "write_pings_per_s": round(len(rows) / write_s),
            "bytes_per_ping": {k: round(v / len(rows), 1) for k, v in sizes.items()},
            "track_ms": _median_ms(track, tracks),
            "who_was_here_500m_ms": _median_ms(who_was_here, centres),
        }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=500)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    result = run(a.vehicles, a.hours, a.batch, a.queries, a.seed)
    if a.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
