"""The simulator and the engine give the same bytes whatever PYTHONHASHSEED is (issue 15: a
result that follows the per-process ``str`` hash, e.g. iterating a set of vehicle ids, would
change from one run to the next and break the reproducibility rule of docs/domain.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (
    "fences.geojson", "registry.json", "pings.jsonl", "truth.jsonl",
    "alerts.jsonl", "trips.jsonl", "rejected.jsonl",
)  # fmt: skip


def night(out: Path, seed: str) -> dict[str, bytes]:
    """`landun sim` then `landun detect` in processes with PYTHONHASHSEED=seed; their files."""
    env = {**os.environ, "PYTHONHASHSEED": seed}

    def landun(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "landun.cli", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    landun("sim", "--vehicles", "25", "--hours", "3", "--seed", "11", "--out", str(out))
    landun(
        "detect", "--fences", str(out / "fences.geojson"), "--registry",
        str(out / "registry.json"), "--pings", str(out / "pings.jsonl"),
        "--out", str(out / "alerts.jsonl"), "--trips", str(out / "trips.jsonl"),
        "--rejected", str(out / "rejected.jsonl"),
    )  # fmt: skip
    return {name: (out / name).read_bytes() for name in OUTPUTS if (out / name).exists()}


def test_two_hash_seeds_give_the_same_night(tmp_path):
    first = night(tmp_path / "a", "1")
    second = night(tmp_path / "b", "2")
    assert set(first) == set(second) == set(OUTPUTS)
    assert first["alerts.jsonl"].count(b"\n") > 0  # a night with alerts
    for name in first:
        assert first[name] == second[name], f"{name} differs between PYTHONHASHSEED 1 and 2"
