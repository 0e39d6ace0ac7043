"""Production-path benchmark (issue 10): the real `landun api`, `landun alert-sink` and `landun
worker` processes over Kafka, Redis and PostgreSQL (``bench.deployment``), each measurement with
a baseline taken in the same run.

``python -m bench.production [--json] [--only edits|alerts|cases]``

- **edits**: two workers (memory store) and the API on a fresh namespace and database, the
  reference data of a simulated fleet loaded through PostgreSQL and the outbox. Fence edits are
  made with ``PUT /api/fences/{id}`` (admin) at a modest pace; for each one, the time from the
  API's 200 to its application in each worker, observed by polling every worker's
  ``landun_reference_records_total{topic=<ns>.fences}`` (~10 ms) and matching increments to
  edits in order (records of the one-partition topic are applied in order; the counter and the
  new engine context change in the same event-loop step). *Baseline*: as many records published
  straight to the fences topic by a Kafka producer (acks=all, as the relay's), timed from the
  acknowledgement, on the same workers, in alternating blocks.
- **alerts**: one worker (live view in Redis), the alert sink and the API. The fleet is the
  simulator's night (``--base-vehicles`` × 1 h from 21:00) replicated ``--copies`` times under
  new vehicle ids (the registry too) so that ``--rate`` pings/s is the fleet's real arrival rate
  (the simulator itself cannot place more than ~3,500 vehicles). The first ``--preroll-min``
  simulated minutes are published as a backlog and drained (vehicle states, trips under way),
  then ``--seconds`` of pings are paced at ``--rate`` as ``bench/stream.py`` does, recording each
  pings record's send time. A websocket client on ``/ws/alerts`` stamps every alert frame.
  For each alert version first raised by a paced record (key: alert id and whether it has
  ended; the ``landun-batch`` header of the alerts-topic record names the pings record),
  latency = websocket arrival − that record's send time. *Baseline*: the same alerts' records
  on the alerts topic (record timestamp − send time), i.e. what ``bench/stream.py`` measures;
  the difference is the sink + PostgreSQL + Redis + API hop. Alerts raised on the topic and
  never seen on the websocket are counted as missing.
- **cases**: 100,000 alerts with their open cases seeded into a fresh database (the first ones
  through ``PgAlertStore.put``, the rest with COPY of the same rows, checked against the
  store's reads), then the API; ≥ 1,000 case transitions (dispatched and closed by a city
  user, handled by enforcement) over one HTTP keep-alive connection. *Baselines* on the same
  connection, interleaved: ``GET /livez`` and ``GET /api/alerts/{id}``.

Numbers depend on the machine and its load (sampled during each part); nothing asserts them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.deployment import (
    ROOT,
)

SIM_START = "2025-06-02T21:00:00+08:00"


# --- shared -----------------------------------------------------------------------------------


def sim_files(vehicles: int, hours: float, seed: int) -> Path:
    """A simulated night from 21:00 (cached under var/bench)."""
    out = ROOT / "var" / "bench" / f"sim-{vehicles}-{hours}-{seed}-2100"
    if not (out / "pings.jsonl").exists():
        cmd = [sys.executable, "-m", "landun.cli", "sim", "--vehicles", str(vehicles)]
        cmd += ["--hours", str(hours), "--seed", str(seed), "--start", SIM_START, "--out", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value below which q % of the values lie)."""
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(len(s) * q / 100) - 1))], 1)


def summary(values_ms: list[float]) -> dict:
    return {
        "n": len(values_ms),
        "p50_ms": pct(values_ms, 50),
        "p99_ms": pct(values_ms, 99),
        "max_ms": round(max(values_ms), 1) if values_ms else None,
    }


def commit() -> dict:
    """HEAD, and the product files changed in the working tree that the processes ran (other
    engineers edit the same tree)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    changed = git("status", "--porcelain", "--untracked-files=no", "--", "api", "stream",
                  "landun", "geofence", "bench").split("\n")  # fmt: skip
    return {"head": git("rev-parse", "--short", "HEAD").strip(),
            "changed": [line[3:] for line in changed if line.strip()]}  # fmt: skip


# --- 1. reference edits -> applied in every worker -------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("edits", "alerts", "cases"), help="run one part")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--base-vehicles", type=int, default=3000, help="simulated fleet (≤ ~3,500)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--edits", type=int, default=200, help="fence edits per path (≥ 100)")
    p.add_argument("--blocks", type=int, default=2, help="alternating blocks per path")
    p.add_argument("--edit-interval", type=float, default=0.2, help="seconds between edits")
    p.add_argument("--poll", type=float, default=0.01, help="worker metrics poll period, s")
    p.add_argument("--rate", type=float, default=5000.0, help="pings/s of the alerts run")
    p.add_argument("--seconds", type=float, default=120.0, help="length of the paced feed")
    p.add_argument("--copies", type=int, help="fleet copies (default: rate / the fleet's rate)")
    p.add_argument("--preroll-min", type=float, default=12.0, help="simulated minutes first")
    p.add_argument("--no-live", action="store_true", help="diagnosis: worker without Redis")
    p.add_argument("--grace", type=float, default=5.0, help="s to wait for late ws frames")
    p.add_argument("--cases", type=int, default=100_000, help="alerts with cases seeded")
    p.add_argument("--transitions", type=int, default=1200, help="case transitions timed")
    args = p.parse_args(argv)
    c = commit()
    result: dict = {
        "commit": c["head"],
        "uncommitted": c["changed"],
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU, {platform.python_implementation()} "
        f"{platform.python_version()}",
    }
    # The parts import this module's helpers: imported here, once it is loaded.
    from bench.production_alerts import bench_alerts
    from bench.production_cases import bench_cases
    from bench.production_edits import bench_edits

    parts = {"edits": bench_edits, "alerts": bench_alerts, "cases": bench_cases}
    for name, run in parts.items():
        if args.only in (None, name):
            result[name] = run(args)
            if not args.json:
                print(name, json.dumps(result[name], ensure_ascii=False), flush=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
