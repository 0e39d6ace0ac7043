"""A simulated night and its embedded archive, for the evidence-pack tests (issue 12).

``landun sim`` writes the night, ``landun detect --archive`` runs the engine over it and writes
the archive an investigation reads, as a newcomer's ``make demo`` does.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from landun.cli import main as landun

# Seed 1's 30-vehicle, 12-hour night raises every one of the 13 alert types.
VEHICLES, HOURS, SEED = 30, 12, 1


def archived_night(folder: Path) -> tuple[Path, dict[str, dict]]:
    """Simulate a night into ``folder``, archive it into ``folder/archive``; return the archive
    and the run's final alerts by id."""
    night = folder / "night"
    argv = ["sim", "--vehicles", str(VEHICLES), "--hours", str(HOURS), "--seed", str(SEED)]
    assert landun([*argv, "--out", str(night)]) == 0
    archive = folder / "archive"
    files = [f"--{name}={night / file}" for name, file in _INPUTS]
    out = night / "alerts.jsonl"
    assert landun(["detect", *files, f"--out={out}", f"--archive={archive}"]) == 0
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    return archive, {a["id"]: a for a in alerts}


_INPUTS = (("fences", "fences.geojson"), ("registry", "registry.json"), ("pings", "pings.jsonl"))


def first_of(alerts: dict[str, dict], kind: str) -> dict:
    """The night's first alert of a type; of dumping alerts, the one whose nearest known place
    is farthest (the pack must hold that place, though the track never came near it)."""
    found = sorted((a for a in alerts.values() if a["type"] == kind), key=lambda a: a["ts"])
    assert found, f"the night raised no {kind}: pick a seed that does"
    return max(found, key=_farthest_place) if kind == "suspected_dumping" else found[0]


def _farthest_place(alert: dict) -> float:
    return (alert["evidence"].get("nearest_place") or {}).get("distance_m", -1.0)
