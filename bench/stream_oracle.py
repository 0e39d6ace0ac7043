"""The stream bench's baseline and oracle: the embedded engine over the same pings (issue 15).

``python -m bench.stream_oracle PINGS FENCES REGISTRY OUT`` runs the offline driver
(``replay.offline.detect_file``, what ``landun detect`` runs) over a pings file in this fresh
process, writes its alerts to ``OUT`` (one line per id, final state, as ``landun detect --out``)
and prints one JSON line: ``pings``, ``alerts``, ``wall_s`` and ``cpu_s`` of the run (reference
loading excluded, reading and parsing the file included, as the worker decodes its records).

It is both the **baseline** of the worker's throughput (the same pings through the same engine
with no Kafka, Faust or checkpoints, measured in the same bench run, interleaved with the worker
rounds) and the **oracle** of its correctness: a worker that ends its input with the final record
must produce exactly these alerts — the same ids with the same contents (:func:`compare_alerts`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]


def compare_alerts(expected: dict[str, dict], got: dict[str, dict]) -> dict:
    """Compare two alert sets by id and by content (final version of each id).

    Parameters
    ----------
    expected : dict
        Alert id -> alert, from the oracle.
    got : dict
        Alert id -> alert, from the system under test.

    Returns
    -------
    dict
        ``equal`` (bool: same ids and every alert equal), ``expected``, ``got``, ``missing``
        and ``extra`` (counts of ids on one side only), ``different`` (ids on both sides with
        other contents), and ``examples`` (up to 3 ids of each kind, to look into).
    """
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    different = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    return {
        "equal": not (missing or extra or different),
        "expected": len(expected),
        "got": len(got),
        "missing": len(missing),
        "extra": len(extra),
        "different": len(different),
        "examples": {"missing": missing[:3], "extra": extra[:3], "different": different[:3]},
    }


def read_alert_lines(path: Path) -> dict[str, dict]:
    """Alerts by id from a ``landun detect --out`` style file."""
    lines = [line for line in Path(path).read_bytes().splitlines() if line.strip()]
    return {a["id"]: a for a in map(orjson.loads, lines)}


def embedded(pings: Path, fences: Path, registry: Path, out: Path) -> dict:
    """Run the offline driver in a fresh subprocess; its figures (alerts written to ``out``)."""
    cmd = [sys.executable, "-m", "bench.stream_oracle", str(pings), str(fences), str(registry)]
    done = subprocess.run([*cmd, str(out)], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run(pings: str, fences: str, registry: str, out: str) -> dict:
    from replay.offline import context_from_files, detect_file

    ctx = context_from_files(fences, registry)
    t0, c0 = time.perf_counter(), time.process_time()
    found = detect_file(pings, ctx)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open(out, "wb") as fh:
        for alert in found.sorted_alerts():
            fh.write(orjson.dumps(alert) + b"\n")
    accepted = found.lines - len(found.rejected)
    return {
        "pings": found.lines,
        "accepted": accepted,
        "alerts": len(found.alerts),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
    }


if __name__ == "__main__":
    print(json.dumps(_run(*sys.argv[1:5])))
