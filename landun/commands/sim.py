"""`landun sim`: simulate a Wuxi fleet night with ground truth (see docs/formats.md).

Writes DIR/fences.geojson, DIR/registry.json, DIR/pings.jsonl (arrival order),
DIR/truth.jsonl and DIR/normal.json (the normal-operation episodes that must not alert, and the
vehicle-hours of normal operation: ``landun score --normal``); the same seed gives
byte-identical files. With ``--rate R`` the pings are
written paced at R times real time (flushed line by line, so ``tail -f`` or a Kafka producer can
follow), after the other three files.

Exit codes: 0 done, 2 bad arguments or the output cannot be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from sim import DEFAULT_START, feed, simulate, truth_counts, writer

EXIT_OK, EXIT_BAD = 0, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim` sub-command."""
    p = subparsers.add_parser(
        "sim",
        help="simulate a fleet with injected violations and ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--vehicles", type=int, default=200, help="fleet size (default 200)")
    p.add_argument("--hours", type=float, default=12.0, help="horizon in hours (default 12)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"start, ISO 8601 with an offset (default {DEFAULT_START}, an evening)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="write pings paced at RATE x real time (1 = real time; default: all at once)",
    )
    p.set_defaults(func=run)


def parse_start(text: str) -> int:
    """Epoch ms of an ISO 8601 time with an offset; ValueError naming the problem otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--start: not ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"--start: needs an offset such as +08:00: {text!r}")
    return int(moment.timestamp() * 1000)


def run(args: argparse.Namespace) -> int:
    try:
        start_ms = parse_start(args.start)
        if args.vehicles < 1 or args.hours <= 0:
            raise ValueError("--vehicles must be >= 1 and --hours > 0")
        if args.rate is not None and args.rate <= 0:
            raise ValueError("--rate must be positive")
    except ValueError as exc:
        print(f"landun sim: {exc}", file=sys.stderr)
        return EXIT_BAD
    t0 = time.perf_counter()
    sim = simulate(args.vehicles, args.hours, args.seed, start_ms)
    out = Path(args.out)
    try:
        n_pings = write_files(sim, out, args.rate)
    except OSError as exc:
        print(f"landun sim: cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_BAD
    elapsed = time.perf_counter() - t0
    print(f"wrote {out}: {n_pings} pings, {len(sim.truths)} truths in {elapsed:.1f} s")
    for kind, n in truth_counts(sim).items():
        print(f"  {kind:<24} {n:>5}")
    print(f"normal operation: {sim.normal_hours:.1f} vehicle-hours, {len(sim.episodes)} episodes")
    return EXIT_OK


def write_files(sim, out: Path, rate: float | None = None) -> int:
    """Write the five files of ``sim`` into ``out``; returns the number of pings.

    With ``rate`` the pings are written last, paced at ``rate`` times real time and flushed line
    by line (so a reader can follow the file as it grows).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "fences.geojson").write_text(writer.json_text(writer.fences(sim.world)), "utf-8")
    (out / "registry.json").write_text(writer.json_text(writer.registry(sim.world)), "utf-8")
    (out / "normal.json").write_text(writer.json_text(writer.normal(sim)), "utf-8")
    with (out / "truth.jsonl").open("wb") as fh:
        fh.writelines(writer.line(writer.truth(t)) for t in sim.truths)
    pings = (p for _, p in feed.arrivals(sim))
    if rate is not None:
        pings = feed.paced(feed.arrivals(sim), rate, time.monotonic, time.sleep)
    n = 0
    with (out / "pings.jsonl").open("wb") as fh:
        for ping in pings:
            fh.write(writer.line(ping))
            n += 1
            if rate is not None:
                fh.flush()
    return n
