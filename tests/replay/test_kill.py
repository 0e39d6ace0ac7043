"""kill -9 the archive writer mid-run and restart it from the last committed offset: no row lost,
none twice (issue 12). The writer here is a loop that commits (an fsynced file, standing in for
Kafka's committed offset) only after the batches are durable, every third batch, as a consumer
committing on an interval does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from replay.layout import SourceRange

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 3_000

WRITER = """
import os, sys
from replay.layout import SourceRange
from tests.replay.archive_world import MIDNIGHT, WUXI, row
archive, commit, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = {total}
start = int(open(commit).read()) if os.path.exists(commit) else 0
from replay.writer import write_batch
rows = [row("V%d" % (k % 7), MIDNIGHT - 600_000 + 400 * k, WUXI, ingest=k)
        for k in range(total)]
for lo in range(start, total, size):
    hi = min(lo + size, total) - 1
    part = rows[lo:hi + 1]
    for r in part:  # Kafka: partition 0, offset = k
        r["partition"], r["offset"], r["ingest"] = 0, r["ingest"], None
    write_batch(archive, SourceRange(lo, hi, partition=0), part)
    if (lo // size) % 3 != 2 and hi + 1 < total:
        continue  # commit every third batch: durable but uncommitted files are the usual case
    with open(commit + ".tmp", "w") as f:
        f.write(str(hi + 1)); f.flush(); os.fsync(f.fileno())
    os.replace(commit + ".tmp", commit)
"""


def run_writer(archive: Path, commit: Path, size: int) -> subprocess.Popen:
    code = WRITER.format(total=TOTAL)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(archive), str(commit), str(size)], cwd=ROOT, env=env
    )


def offsets(archive: Path) -> list[int]:
    files = sorted((archive / "pings").rglob("*.parquet"))
    return sorted(
        o for f in files for o in pq.read_table(f, columns=["offset"])["offset"].to_pylist()
    )


def uncommitted(archive: Path, done: int) -> bool:
    """A durable file holds offsets past the committed one (a redelivery will overlap it)."""
    ranges = (SourceRange.from_file_name(p.name) for p in archive.glob("pings/*/*.parquet"))
    return any(r is not None and r.first >= done for r in ranges)


def committed(commit: Path) -> int:
    try:
        return int(commit.read_text())
    except (FileNotFoundError, ValueError):
        return 0


@pytest.mark.parametrize("kill_at", [1, 700, 1900])
def test_kill_9_and_restart_loses_nothing_and_duplicates_nothing(tmp_path, kill_at):
    archive, commit = tmp_path / "archive", tmp_path / "committed"
    first = run_writer(archive, commit, size=37)
    deadline = time.monotonic() + 60
    while first.poll() is None and time.monotonic() < deadline:
        if committed(commit) >= kill_at and uncommitted(archive, committed(commit)):
            break
        time.sleep(0.0005)
    first.send_signal(signal.SIGKILL)  # somewhere in a later batch: staging, renaming, committing
    first.wait()
    done = committed(commit)
    assert done < TOTAL, "the writer finished before the kill: nothing was tested"
    # Redelivery from the committed offset, cut into other batches than the first life's.
    second = run_writer(archive, commit, size=170)
    assert second.wait(timeout=120) == 0
    assert offsets(archive) == list(range(TOTAL)), f"killed with {done} committed"
    assert not [p for p in archive.rglob("*.tmp")], "temp files left behind"
