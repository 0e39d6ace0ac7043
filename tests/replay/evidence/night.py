"""A simulated night and its embedded archive, for the evidence-pack tests (issue 12).

``landun sim`` writes the night; the archive is the one an embedded run writes
(``landun detect --archive`` when it exists, else this module's stand-in that writes what the
contracts say such a run writes: every non-blank line a ``pings`` row numbered by its 0-based
line (``ingest``), its verdict, the run's events, the reference snapshot dated ts = 0).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from geofence import FenceIndex, load_fences
from landun.cli import main as landun
from replay.layout import SourceRange
from replay.reference import reference_events
from replay.rows import ACCEPTED, ping_row
from replay.writer import write_batch
from stream.engine import EngineContext, EngineState, EventKind, finish, process
from stream.ping import PingError, parse_ping
from stream.registry import Registry

VEHICLES, HOURS, SEED = 60, 12, 5  # seed 5's 60-vehicle night raises all 13 alert types


def simulate_night(folder: Path) -> Path:
    """``landun sim`` into ``folder``; returns it."""
    argv = ["sim", "--vehicles", str(VEHICLES), "--hours", str(HOURS), "--seed", str(SEED)]
    assert landun([*argv, "--out", str(folder)]) == 0
    return folder


def archive_night(night: Path, archive: Path) -> dict[str, dict]:
    """Run the engine over the night and archive it; returns the final alerts by id."""
    fences = load_fences(night / "fences.geojson")
    registry = Registry.load(night / "registry.json")
    ctx = EngineContext(FenceIndex(fences), registry)
    rows: dict[int, dict] = {}
    raws: dict[int, str] = {}
    batch = []
    lines = (night / "pings.jsonl").read_bytes().splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        raw = line.decode()
        raws[number] = raw
        try:
            batch.append(parse_ping(line, ref=number))
        except PingError as exc:
            rows[number] = ping_row(
                None, exc.reason, raw=raw, detail=exc.detail, ingest=number, vehicle=exc.vehicle
            )
    pings = {p.ref: p for p in batch}
    states, events = process(batch, ctx, EngineState())
    states, tail = finish(ctx, states)
    events = [*events, *tail]
    for kind, payload in events:
        if kind == EventKind.REJECTED:
            ref = payload["ref"]
            rows[ref] = ping_row(
                pings[ref], payload["reason"], raw=raws[ref], detail=payload["detail"], ingest=ref
            )
    for ref, ping in pings.items():
        rows.setdefault(ref, ping_row(ping, ACCEPTED, raw=raws[ref], ingest=ref))
    snapshot = reference_events(
        orjson.loads((night / "fences.geojson").read_bytes())["features"],
        orjson.loads((night / "registry.json").read_bytes()),
        0,
    )
    kept = [(str(k), p) for k, p in events if k != EventKind.REJECTED]
    write_batch(archive, SourceRange(0, max(raws)), rows.values(), [*snapshot, *kept])
    alerts: dict[str, dict] = {}
    for kind, payload in events:
        if kind == EventKind.ALERT:
            alerts[payload["id"]] = payload
    return alerts
