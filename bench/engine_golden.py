"""Golden comparison for behaviour-preserving engine refactors (issue 11, "the engine as a house").

``python -m bench.engine_golden record DIR`` runs a few simulated fleets (muck and kitchen
vehicles, with the simulator's backfill, jitter and reordering noise) through
``stream.engine.process``/``finish`` with several split points, and writes, per fleet and
split, every event (orjson, sorted keys) and ``EngineState.to_dict()`` (orjson) at each split.
``python -m bench.engine_golden check DIR`` recomputes them and compares byte for byte.
The golden data lives wherever DIR points (a scratch directory), not in the repository.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys

import orjson

from geofence import FenceIndex, load_fences
from sim import DEFAULT_START, feed, simulate, writer
from stream.engine import EngineContext, EngineState, finish, process
from stream.eventtime import parse_ts
from stream.ping import parse_ping

FLEETS = [
    (60, 6.0, 11, DEFAULT_START),
    (40, 4.0, 12, "2025-06-02T21:00:00+08:00"),
    (25, 8.0, 13, DEFAULT_START),
]
SPLITS = [(), (1,), (0.13, 0.5, 0.77), (0.31, 0.32, 0.9)]


def _dump(obj) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def run(fleet: tuple, fractions: tuple) -> bytes:
    n_vehicles, hours, seed, start = fleet
    sim = simulate(n_vehicles, hours, seed, parse_ts(start))
    pings = [parse_ping(writer.line(p), ref=n) for n, (_, p) in enumerate(feed.arrivals(sim), 1)]
    index = FenceIndex(load_fences(writer.fences(sim.world)))
    registry = writer.registry(sim.world)
    from stream.registry import Registry

    reg = Registry.from_mapping(registry)
    cuts = sorted({max(1, int(f * len(pings))) if f != 1 else 1 for f in fractions})
    lines: list[bytes] = []
    states = EngineState()
    for lo, hi in zip([0, *cuts], [*cuts, len(pings)], strict=True):
        ctx = EngineContext(index, reg)
        states, events = process(pings[lo:hi], ctx, states)
        lines += [_dump([k, p]) for k, p in events]
        blob = orjson.dumps(states.to_dict())
        lines.append(b"STATE " + blob)
        states = EngineState.from_dict(orjson.loads(blob))
    states, events = finish(EngineContext(index, reg), states)
    lines += [_dump([k, p]) for k, p in events]
    lines.append(b"STATE " + orjson.dumps(states.to_dict()))
    return b"\n".join(lines)


def main(argv: list[str]) -> int:
    mode, out = argv[0], pathlib.Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for i, fleet in enumerate(FLEETS):
        for j, fr in enumerate(SPLITS):
            data = run(fleet, fr)
            path = out / f"f{i}_s{j}.bin"
            digest = hashlib.sha256(data).hexdigest()[:12]
            if mode == "record":
                path.write_bytes(data)
                print(path.name, digest, data.count(b"\n"), "lines")
            else:
                same = path.read_bytes() == data
                bad += not same
                print(path.name, digest, "identical" if same else "DIFFERENT")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
