"""Trace archive benchmark (issue 12): write rate, compaction, bytes per ping, query times, and
the same queries on PostgreSQL + PostGIS over the same pings in the same run.

Run ``python -m bench.replay`` (defaults: 10,000 vehicles × 7 nights ≈ 100 million pings, 20
million of them into PostGIS; ``make bench-replay`` installs PostGIS and writes
``out/bench/replay.json``); ``--vehicles 300 --nights 2 --pg-pings 200000`` is a quick look.

- Pings: ``bench.replay_tracks`` (trucks on a road grid, 10-30 s fixes, stops, loaded states,
  raw JSON), in arrival (time) order, one Kafka-style partition per worker process (a vehicle
  always in the same partition), written through the real path: ``replay.rows``-shaped dicts →
  ``replay.writer.write_batch`` in batches of ``--batch``. The write rate is pings per second
  of the writing process's CPU time (per core) and of wall time, generation not counted.
- Compaction: ``replay.compact.compact`` with every offset committed. Bytes per ping are
  measured before and after, per table, with and without the ``raw`` column.
- Queries: random, the same list for the archive (DuckDB, ``replay.queries``) and PostGIS, each
  list run once to warm caches and then timed; p50 and p95 in ms. A vehicle-day is one night's
  shift (12:00 to 12:00 the next day); who-was-here is 500 m around a road junction over that
  day, or over the whole week. PostGIS holds the first ``--pg-pings`` pings (night 0 and part of
  night 1), so the comparison uses night-0 queries on both; the targets use random nights.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench import postgis
from bench.replay_tracks import (
    BLOCK_M,
    DAY0_MS,
    DAY_MS,
    M_PER_DEG_LAT,
    M_PER_DEG_LNG,
    WUXI,
    vehicle_id,
)
from bench.replay_tracks import nights as night_fixes
from bench.replay_tracks import rows as fix_rows
from replay.compact import compact
from replay.layout import SourceRange
from replay.queries import track, who_was_here
from replay.writer import write_batch

HOUR_MS = 3_600_000
TARGETS = {"track_ms": 10, "who_1d_ms": 30, "who_7d_ms": 100, "bytes_per_ping": 16,
           "write_pings_per_cpu_s": 200_000}  # fmt: skip


def write_partition(part: int, a: argparse.Namespace, archive: str, pg_file: str | None) -> dict:
    """Generate and write the pings of the vehicles of partition ``part`` (one process)."""
    vehicles = [v for v in range(a.vehicles) if v % a.workers == part]
    names = {i: vehicle_id(v) for i, v in enumerate(vehicles)}
    names_list = [names[i] for i in range(len(vehicles))]
    quota = a.pg_pings // a.workers if pg_file else 0
    out = open(pg_file, "w") if pg_file else None  # noqa: SIM115 - closed below
    offset, gen_s, wall_s, cpu_s = 0, 0.0, 0.0, 0.0
    for k in range(a.nights):
        t = time.perf_counter()
        cols = night_fixes(vehicles, k, a.seed)
        gen_s += time.perf_counter() - t
        n = cols["ts"].size
        for lo in range(0, n, a.batch):
            t = time.perf_counter()
            rows = list(fix_rows(cols, names_list, lo, min(lo + a.batch, n)))
            for i, r in enumerate(rows):
                r["partition"], r["offset"] = part, offset + i
            if out is not None and offset < quota:
                out.writelines(postgis.lines(rows[: quota - offset]))
            gen_s += time.perf_counter() - t
            t, c = time.perf_counter(), time.process_time()
            write_batch(archive, SourceRange(offset, offset + len(rows) - 1, part), rows)
            wall_s += time.perf_counter() - t
            cpu_s += time.process_time() - c
            offset += len(rows)
        _say({"partition": part, "night": k, "pings": offset, "gen_s": round(gen_s),
              "write_cpu_s": round(cpu_s), "write_wall_s": round(wall_s)})  # fmt: skip
    if out is not None:
        out.close()
    return {"partition": part, "pings": offset, "gen_s": gen_s, "write_wall_s": wall_s,
            "write_cpu_s": cpu_s}  # fmt: skip


def load_postgis(files: list[str], conn: mp.connection.Connection) -> None:
    """COPY the pings into a fresh positions table and index it (a child process)."""
    t = time.perf_counter()
    con = postgis.connect()
    for f in files:
        with open(f) as lines:
            postgis.copy_lines(con, lines)
    loaded = time.perf_counter() - t
    stats = postgis.finish(con)
    stats.update(copy_s=round(loaded, 1), total_s=round(time.perf_counter() - t, 1))
    con.close()
    conn.send(stats)


def sizes(archive: str) -> dict:
    """Bytes per table, and of the ``raw`` column of pings, and the file count."""
    out: dict = {"files": 0}
    for table in ("pings", "cells", "alerts"):
        total = 0
        for root, _, files in os.walk(os.path.join(archive, table)):
            for n in files:
                if n.endswith(".parquet"):
                    total += os.path.getsize(os.path.join(root, n))
                    out["files"] += 1
        out[table] = total
    raw = 0
    for root, _, files in os.walk(os.path.join(archive, "pings")):
        for n in files:
            if n.endswith(".parquet"):
                md = pq.read_metadata(os.path.join(root, n))
                col = md.schema.names.index("raw")
                raw += sum(md.row_group(g).column(col).total_compressed_size
                           for g in range(md.num_row_groups))  # fmt: skip
    out["pings_raw"] = raw
    return out


def per_ping(s: dict, pings: int) -> dict:
    total = s["pings"] + s["cells"]
    return {
        "pings": round(s["pings"] / pings, 2),
        "pings_raw_column": round(s["pings_raw"] / pings, 2),
        "cells": round(s["cells"] / pings, 2),
        "total_with_raw": round(total / pings, 2),
        "total_without_raw": round((total - s["pings_raw"]) / pings, 2),
        "pings_without_raw": round((s["pings"] - s["pings_raw"]) / pings, 2),
        "files": s["files"],
    }


def timed(fn, calls: list[tuple]) -> dict:
    """Warm pass, then a timed pass: p50/p95 in ms, and the mean result size."""
    for args in calls:
        fn(*args)
    times, sizes_ = [], []
    for args in calls:
        t = time.perf_counter()
        got = fn(*args)
        times.append((time.perf_counter() - t) * 1000)
        sizes_.append(_size(got))
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
        "n": len(times),
        "mean_result": round(statistics.mean(sizes_), 1),
    }


def _size(result) -> int:
    """Points of a track page (a Feature, or the FeatureCollection's track), vehicles else."""
    if isinstance(result, dict):
        features = result.get("features", [result])
        return sum(
            len(f["geometry"]["coordinates"])
            for f in features
            if f.get("properties", {}).get("kind", "track") == "track"
        )
    return len(result)


def shift(k: int) -> tuple[int, int]:
    """Night k's vehicle-day: 12:00 Beijing on day k to 12:00 the next day."""
    return DAY0_MS + k * DAY_MS + 12 * HOUR_MS, DAY0_MS + (k + 1) * DAY_MS + 12 * HOUR_MS


def junction(rng: np.random.Generator) -> tuple[float, float]:
    """A road junction within ~10 km of the centre (trucks pass there)."""
    bx, by = rng.integers(-25, 26, 2)
    return WUXI[0] + by * BLOCK_M / M_PER_DEG_LAT, WUXI[1] + bx * BLOCK_M / M_PER_DEG_LNG


def queries(a: argparse.Namespace, archive: str, rng: np.random.Generator, night0: bool) -> dict:
    """Query lists (args for the archive); night0 keeps every window in night 0."""
    q = a.queries
    ks = [0] * q if night0 else rng.integers(0, a.nights, q).tolist()
    vs = rng.integers(0, a.vehicles, q).tolist()
    tracks = [(archive, vehicle_id(v), *shift(k), 10_000) for v, k in zip(vs, ks, strict=True)]
    centres = [junction(rng) for _ in range(q)]
    who1 = [(archive, la, ln, 500.0, *shift(k)) for (la, ln), k in zip(centres, ks, strict=True)]
    week = (shift(0)[0], shift(a.nights - 1)[1])
    who7 = [(archive, la, ln, 500.0, *week) for la, ln in centres]
    return {"track": tracks, "who_1d": who1, "who_7d": who7}


def meta() -> dict:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": sh("git rev-parse --short HEAD"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run(a: argparse.Namespace) -> dict:
    result: dict = {"meta": meta(), "args": {k: str(v) for k, v in vars(a).items()}}
    archive = a.archive or tempfile.mkdtemp(prefix="landun-bench-archive-", dir=a.workdir)
    pg_files = [os.path.join(archive, f"_pg-{k}.tsv") for k in range(a.workers)]
    t = time.perf_counter()
    ctx = mp.get_context("fork")
    with ctx.Pool(a.workers) as pool:
        jobs = [
            pool.apply_async(write_partition, (k, a, archive, pg_files[k] if a.pg_pings else None))
            for k in range(a.workers)
        ]
        parts = [j.get() for j in jobs]
    pings = sum(p["pings"] for p in parts)
    result["write"] = {
        "pings": pings,
        "phase_s": round(time.perf_counter() - t, 1),
        "pings_per_cpu_s": round(pings / sum(p["write_cpu_s"] for p in parts)),
        "pings_per_wall_s_per_process": round(pings / sum(p["write_wall_s"] for p in parts)),
        "parts": parts,
    }
    _say(result["write"])
    pg_proc = None
    if a.pg_pings:
        recv, send = ctx.Pipe(duplex=False)
        pg_proc = ctx.Process(target=load_postgis, args=(pg_files, send))
        pg_proc.start()
    before = sizes(archive)
    result["bytes_per_ping_before_compaction"] = per_ping(before, pings)
    t = time.perf_counter()
    committed = {"pings": {str(p["partition"]): p["pings"] for p in parts}}
    end = DAY0_MS + (a.nights + 1) * DAY_MS
    report = compact(archive, now_ms=end, retention_days=None, committed=committed,
                     workers=a.workers)  # fmt: skip
    result["compaction"] = {
        "s": round(time.perf_counter() - t, 1),
        "merges": len(report["merged"]),
        "files_merged": sum(m["files"] for m in report["merged"]),
    }
    result["bytes_per_ping"] = per_ping(sizes(archive), pings)
    _say(result["compaction"], result["bytes_per_ping_before_compaction"], result["bytes_per_ping"])
    if pg_proc is not None:
        result["postgis"] = recv.recv()
        pg_proc.join()
        result["postgis"]["bytes_per_ping"] = round(
            result["postgis"]["bytes"] / max(result["postgis"]["rows"], 1), 1
        )
        _say(result["postgis"])
    rng = np.random.default_rng(a.seed + 1)
    targets = queries(a, archive, rng, night0=False)
    result["archive"] = {
        "track": timed(track, targets["track"]),
        "who_1d": timed(who_was_here, targets["who_1d"]),
        "who_7d": timed(who_was_here, targets["who_7d"]),
    }
    _say(result["archive"])
    if a.pg_pings:
        same = queries(a, archive, rng, night0=True)
        con = postgis.psycopg.connect(postgis.url(), autocommit=True)
        pg_track = [(con, *q[1:4]) for q in same["track"]]
        pg_who = [(con, *q[1:]) for q in same["who_1d"]]
        cmp = {
            "archive_track": timed(track, same["track"]),
            "postgis_track": timed(postgis.track, pg_track),
            "archive_who_1d": timed(who_was_here, same["who_1d"]),
            "postgis_who_1d": timed(postgis.who_was_here, pg_who),
        }
        con.close()
        for q in ("track", "who_1d"):
            cmp[f"{q}_ratio_postgis_over_archive"] = round(
                cmp[f"postgis_{q}"]["p50_ms"] / cmp[f"archive_{q}"]["p50_ms"], 2
            )
        result["vs_postgis"] = cmp
        _say(cmp)
    result["meta"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = TARGETS
    if not a.keep and not a.archive:
        shutil.rmtree(archive, ignore_errors=True)
    return result


def _say(*items) -> None:
    for item in items:
        print(json.dumps(item), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--nights", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2, help="writer processes (partitions)")
    ap.add_argument("--batch", type=int, default=20_000, help="pings per write_batch")
    ap.add_argument("--pg-pings", type=int, default=20_000_000, help="0: no PostGIS")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--archive", help="write here (kept); default a temp dir, removed")
    ap.add_argument("--workdir", default=None, help="where the temp archive goes")
    ap.add_argument("--keep", action="store_true", help="keep the temp archive")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    a = ap.parse_args(argv)
    result = run(a)
    text = json.dumps(result, indent=2)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
